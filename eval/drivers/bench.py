"""Benchmarks for the spine: build, rebuild, search latency, server cold start and RSS.

Every figure comes from one run on this machine, side by side; medians and p95 over repeated
measurements. Not a test: these machines are shared and noisy.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from eval.drivers.build import served_encoder
from eval.harness import MODES, run_query, score_runs
from eval.suite import load_suite
from pipelines.fetch import fetch_source
from pipelines.publish import publish
from pipelines.transform.build import CollectionSpec, build_options, build_snapshot
from pipelines.validate.gates import run_gates
from snapsearch.format.model import Encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import PipelineSettings


def _read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def _write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


def _build(root: Path, source: Path, encoder: Encoder) -> dict[str, Any]:
    s = PipelineSettings()
    t0 = time.perf_counter()
    raw = fetch_source(str(source), root)
    res = build_snapshot(root, [CollectionSpec("parts", "parts", raw)], encoder, build_options(s))
    total = time.perf_counter() - t0
    enc = res.timings["encode_s"]
    return {
        "snapshot": str(res.path), "records": res.records, "total_s": round(total, 2),
        "encode_s": round(enc, 2), "other_s": round(total - enc, 2),
        "overhead_over_encoding": round((total - enc) / enc, 3) if enc > 0.5 else None,
        "reused": res.reused, "encoded": res.encoded,
        "encode_per_s": round(res.encoded / enc, 1) if enc > 0.5 else None,
    }


def bench_build(source: Path, work: Path, encoder: Encoder, log=print) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """First build (cold cache), rebuild with no change, rebuild with ~1 % of records changed."""
    root = work / "store"
    out: dict[str, Any] = {}
    log(f"build (cold embedding cache): {source}")
    out["cold"] = _build(root, source, encoder)
    log(f"  {out['cold']}")
    log("rebuild, no change")
    out["rebuild_unchanged"] = _build(root, source, encoder)
    log(f"  {out['rebuild_unchanged']}")
    records = _read_records(source)
    rng = random.Random(7)
    changed = rng.sample(range(len(records)), max(1, len(records) // 100))
    for i in changed:
        records[i] = {
            **records[i], "description": (records[i].get("description") or "") + " (rev B)"
        }
    edited = _write_records(work / f"changed-{source.name.removesuffix('.gz')}", records)
    log(f"rebuild, {len(changed)} records changed")
    out["rebuild_1pct_changed"] = _build(root, edited, encoder)
    out["rebuild_1pct_changed"]["changed_records"] = len(changed)
    log(f"  {out['rebuild_1pct_changed']}")
    return out


def bench_search(
    snapshot_dir: Path, suite_path: Path, encoder: Encoder, repeats: int = 3
) -> dict[str, Any]:
    """In-process latency per mode over the suite's queries: uncached (first pass) and cached."""
    suite = load_suite(suite_path)
    out: dict[str, Any] = {}
    with open_snapshot(snapshot_dir) as snap:
        for mode in MODES:
            engine = SearchEngine(snap, served_encoder(snap))
            first = [run_query(engine, q.id, q.query, mode, k=10, filters=q.filters) for q in suite]
            again = [run_query(engine, q.id, q.query, mode, k=10, filters=q.filters)
                     for _ in range(repeats) for q in suite]
            a, b = score_runs(first, {}), score_runs(again, {})
            out[mode] = {"uncached_p50_ms": round(a["p50_ms"], 2),
                         "uncached_p95_ms": round(a["p95_ms"], 2),
                         "cached_p50_ms": round(b["p50_ms"], 2),
                         "cached_p95_ms": round(b["p95_ms"], 2),
                         "queries": len(first)}
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_serve(root: Path, queries: list[str], requests: int = 200) -> dict[str, Any]:
    """`snapsearch serve` as a subprocess: cold start to ready, RSS, HTTP latency on loopback."""
    port = _free_port()
    exe = Path(sys.executable).with_name("snapsearch")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SNAPSEARCH_RELOAD_POLL_S": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "serve", "--root", str(root), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    ready_s = None
    try:
        with httpx.Client(timeout=5.0) as client:
            deadline = time.perf_counter() + 180
            while time.perf_counter() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    if client.get(f"{base}/readyz").status_code == 200:
                        ready_s = time.perf_counter() - t0
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            rss_ready = _rss_mb(proc.pid)
            lat = []
            for i in range(min(requests, 2000)):
                q = queries[i % len(queries)]
                t = time.perf_counter()
                r = client.post(f"{base}/v1/search", json={"query": q, "limit": 10})
                lat.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
            lat.sort()
            return {
                "cold_start_to_ready_s": round(ready_s, 2) if ready_s else None,
                "rss_ready_mb": round(rss_ready, 1),
                "rss_after_load_mb": round(_rss_mb(proc.pid), 1),
                "http_hybrid_p50_ms": round(lat[len(lat) // 2], 2),
                "http_hybrid_p95_ms": round(lat[int(len(lat) * 0.95) - 1], 2),
                "requests": len(lat),
                "note": "first pass over the queries is uncached; "
                        "later passes hit the query-embedding cache",
            }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_bench(source: Path, suite_path: Path, encoder: Encoder, keep: Path | None = None,
              log=print) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    work = Path(tempfile.mkdtemp(prefix="snapsearch-bench-"))
    try:
        out: dict[str, Any] = {
            "source": str(source), "suite": str(suite_path), "cpus": os.cpu_count()
        }
        out["build"] = bench_build(source, work, encoder, log=log)
        snap_dir = Path(out["build"]["cold"]["snapshot"])
        log("gates")
        report = run_gates(snap_dir, encoder, PipelineSettings().gates, suite_path=suite_path)
        out["gates"] = {n: {"passed": g.passed, **{k: v for k, v in g.metrics.items()
                                                   if isinstance(v, int | float)}}
                        for n, g in report.gates.items()}
        publish(work / "store", snap_dir.name, retention=10)
        log("in-process search latency")
        out["search"] = bench_search(snap_dir, suite_path, encoder)
        log("serve: cold start, RSS, HTTP latency")
        out["serve"] = bench_serve(work / "store", [q.query for q in load_suite(suite_path)])
        return out
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
