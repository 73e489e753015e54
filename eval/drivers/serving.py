"""What the ONNX query encoder buys at serve time (`python -m eval serving`).

- Query encode, one query at a time on one thread: the snapshot's ONNX encoder (onnxruntime +
  tokenizers) against the pinned model on torch (sentence-transformers), p50/p95 per query set
  (catalogue queries, SciFact claims), and their cosine agreement.
- Server cold start: process spawn -> first answered search (`python -m serve`, a fresh
  interpreter, the default settings: every file's sha256 verified), and RSS when ready, per store.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval.drivers.bench import _free_port, _rss_mb
from snapsearch.format import layout, links
from snapsearch.format.manifest import read_manifest
from snapsearch.format.model import Encoder
from snapsearch.format.model_query import open_query_encoder

Log = Callable[[str], None]


def _percentile(xs: Sequence[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _encode_ms(encoder: Encoder, texts: Sequence[str]) -> list[float]:
    encoder.encode(list(texts[:5]))  # warm-up: lazy pages, allocator
    out = []
    for text in texts:
        t0 = time.perf_counter()
        encoder.encode([text])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def encoder_figures(
    snapshot_dir: Path, query_sets: dict[str, list[str]], torch_encoder: Encoder | None,
) -> dict[str, Any]:
    """p50/p95 ms per query (ONNX, and torch when given) and cosine(ONNX, torch) per set."""
    manifest = read_manifest(snapshot_dir)
    onnx = open_query_encoder(snapshot_dir, manifest.model)
    out: dict[str, Any] = {}
    for name, texts in query_sets.items():
        row: dict[str, Any] = {"queries": len(texts)}
        ms = _encode_ms(onnx, texts)
        row["onnx_p50_ms"] = round(statistics.median(ms), 2)
        row["onnx_p95_ms"] = round(_percentile(ms, 95), 2)
        if torch_encoder is not None:
            ms = _encode_ms(torch_encoder, texts)
            row["torch_p50_ms"] = round(statistics.median(ms), 2)
            row["torch_p95_ms"] = round(_percentile(ms, 95), 2)
            a, b = onnx.encode(texts), torch_encoder.encode(texts)
            cos = np.sum(a * b, axis=1)
            row["cosine_min"] = round(float(cos.min()), 7)
            row["cosine_mean"] = round(float(cos.mean()), 7)
        out[name] = row
    return out


def _store_root(path: Path, tmp: Path) -> Path:
    """A store root whose `current` is ``path`` (a snapshot directory or a store root)."""
    if (path / layout.CURRENT).exists():
        return path
    root = tmp / f"store-{path.name}"
    root.mkdir()
    os.symlink(path.resolve(), root / path.name)
    links.flip(root, layout.CURRENT, path.name)
    return root


def cold_start(root: Path, query: str, *, runs: int = 3, timeout_s: float = 120) -> dict[str, Any]:
    """Spawn `python -m serve` ``runs`` times: seconds to the first answered search, RSS then."""
    first, rss = [], []
    for _ in range(runs):
        port = _free_port()
        env = {**os.environ, "SNAPSEARCH_ROOT": str(root), "SNAPSEARCH_PORT": str(port),
               "SNAPSEARCH_RELOAD_POLL_S": "0", "SNAPSEARCH_LOG_LEVEL": "warning"}
        url = f"http://127.0.0.1:{port}/v1/search"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with httpx.Client(timeout=10.0) as client:
                while True:
                    if proc.poll() is not None:
                        err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                        raise RuntimeError(f"server exited: {err}")
                    if time.perf_counter() - t0 > timeout_s:
                        raise RuntimeError(f"no answer within {timeout_s} s")
                    try:
                        r = client.post(url, json={"query": query, "limit": 10})
                        if r.status_code == 200:
                            first.append(time.perf_counter() - t0)
                            rss.append(_rss_mb(proc.pid))
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.01)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
    return {
        "spawn_to_first_answer_s": round(statistics.median(first), 2),
        "spawn_to_first_answer_all_s": [round(x, 2) for x in first],
        "rss_ready_mb": round(statistics.median(rss), 1),
        "runs": runs,
    }


def store_facts(root: Path) -> dict[str, Any]:
    snap = links.resolve_current(root)
    m = read_manifest(snap)
    return {
        "snapshot_id": m.snapshot_id,
        "records": sum(c.records for c in m.collections.values()),
        "bytes_on_disk": sum(f.bytes for f in m.files.values()),
        "query_encoder": m.model.query_encoder,
        "query_encoder_bytes": sum(
            m.files[n].bytes for n in (layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA)
            if n in m.files
        ),
    }


def run_serving(
    stores: dict[str, Path], query_sets: dict[str, list[str]], torch_encoder: Encoder | None,
    *, runs: int = 3, log: Log = print,
) -> dict[str, Any]:
    out: dict[str, Any] = {"cpus": os.cpu_count(), "stores": {}, "encode": {}}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {name: _store_root(path, Path(tmp)) for name, path in stores.items()}
        first = next(iter(roots.values()))
        log(f"encode: ONNX vs torch, one query at a time, on {first}")
        out["encode"] = encoder_figures(links.resolve_current(first), query_sets, torch_encoder)
        for name, root in roots.items():
            log(f"cold start: {name} ({root})")
            out["stores"][name] = {**store_facts(root), **cold_start(root, "10k 0402 resistor 1%",
                                                                    runs=runs)}
    return out


def print_serving(out: dict[str, Any]) -> None:
    print(f"\nquery encode, one query, one thread ({out['cpus']} CPUs)")
    print(f"{'queries':<16}{'n':>5}{'onnx p50':>10}{'p95':>8}{'torch p50':>11}{'p95':>8}"
          f"{'cos min':>11}{'cos mean':>11}")
    for name, r in out["encode"].items():
        t50, t95 = r.get("torch_p50_ms"), r.get("torch_p95_ms")
        print(f"{name:<16}{r['queries']:>5}{r['onnx_p50_ms']:>10.2f}{r['onnx_p95_ms']:>8.2f}"
              + (f"{t50:>11.2f}{t95:>8.2f}" if t50 is not None else f"{'-':>11}{'-':>8}")
              + (f"{r['cosine_min']:>11.7f}{r['cosine_mean']:>11.7f}" if "cosine_min" in r
                 else ""))
    print(f"\n{'server':<16}{'records':>9}{'disk MB':>9}{'spawn->answer s':>17}"
          f"{'RSS ready MB':>14}")
    for name, r in out["stores"].items():
        print(f"{name:<16}{r['records']:>9}{r['bytes_on_disk'] / 1e6:>9.1f}"
              f"{r['spawn_to_first_answer_s']:>17.2f}{r['rss_ready_mb']:>14.1f}")


def load_queries(parts_suite: Path | None, scifact: Path | None, limit: int = 300) -> (
    dict[str, list[str]]
):
    sets: dict[str, list[str]] = {}
    if parts_suite is not None and parts_suite.is_file():
        with parts_suite.open(encoding="utf-8") as f:
            sets["parts"] = [json.loads(line)["query"] for line in f if line.strip()][:limit]
    if scifact is not None and (scifact / "queries.jsonl").is_file():
        with (scifact / "queries.jsonl").open(encoding="utf-8") as f:
            sets["scifact"] = [json.loads(line)["text"] for line in f if line.strip()][:limit]
    return sets
