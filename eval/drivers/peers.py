"""snapsearch beside txtai, LanceDB and Chroma, side by side in one run on this machine.

For each corpus: one eval snapshot (pipeline code, embeddings reused) exported for every system
(``peer_corpus``); each system builds its index from the same vectors in a process of its own
(index building is not a compared figure); then each system is measured ``repeats`` times, each
time in a fresh process (``peer_worker``: spawn -> first answer, RSS when ready, every query once
with its own query encoder), the systems taking turns so that the machine's load falls on all of
them alike. snapsearch is also measured behind `snapsearch serve` over loopback HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from eval.drivers.peer_corpus import PeerCorpus, Prepared, prepare
from eval.drivers.peer_http import serve_bench
from eval.drivers.peer_process import PeerError, run_worker
from eval.drivers.peer_report import ratios, summarize, targets
from eval.drivers.peer_snapsearch import store_of
from snapsearch.format import layout
from snapsearch.format.model import Encoder


@dataclass(frozen=True)
class System:
    name: str  # the row's name
    module: str  # the peer_worker SYSTEM: a registered name or a module's dotted path
    mode: str
    package: str | None = None  # the distribution it needs (checked before anything runs)
    # files of its index that are the query model, not the index: snapsearch's snapshot carries
    # its ONNX query encoder; the peers load the same model from the installed package
    model_files: tuple[str, ...] = ()


SNAPSHOT_MODEL = (layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA, layout.QUERY_TOKENIZER)


SYSTEMS: dict[str, System] = {s.name: s for s in (
    System("snapsearch", "snapsearch", "hybrid", model_files=SNAPSHOT_MODEL),
    System("snapsearch-vector", "snapsearch", "vector", model_files=SNAPSHOT_MODEL),
    System("txtai", "txtai", "hybrid", "txtai"),
    System("lancedb", "lancedb", "hybrid", "lancedb"),
    System("chroma", "chroma", "vector", "chromadb"),
)}
VERSIONS = ("txtai", "lancedb", "pylance", "tantivy", "chromadb", "sentence-transformers",
            "transformers", "torch", "onnxruntime", "tokenizers", "hnswlib")
Log = Callable[[str], None]


def missing_packages(systems: list[System]) -> list[str]:
    """Distributions the chosen systems need and this venv lacks (the `peers` extra)."""
    out = []
    for s in systems:
        module = {"chromadb": "chromadb"}.get(s.package or "", s.package)
        if module and find_spec(module) is None:
            out.append(s.package or module)
    return out


def dir_bytes(path: Path, only: tuple[str, ...] | None = None,
              skip: tuple[str, ...] = ()) -> int:
    """Bytes of the regular files under ``path`` (links not followed), only those named in
    ``only`` when given, none named in ``skip``."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            full = os.path.join(d, f)
            if os.path.islink(full) or f in skip or (only is not None and f not in only):
                continue
            total += os.lstat(full).st_size
    return total


def versions() -> dict[str, str]:
    out = {}
    for dist in VERSIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def index_key(system: System, prep: Prepared) -> str:
    """What an index depends on: the exported docs and vectors; for snapsearch, its snapshot and
    the suite its gates ran (the store holds that snapshot and its gate report)."""
    if system.module != "snapsearch":
        return prep.digest[:12]
    basis = json.dumps([prep.digest, prep.meta.get("snapshot"), prep.meta.get("suite")])
    return hashlib.sha256(basis.encode()).hexdigest()[:12]


def build_index(system: System, prep: Prepared, work: Path, model_dir: Path,
                log: Log) -> tuple[Path, dict[str, Any]]:
    """The system's index of the corpus, built in a process of its own (reused when built), and
    what its build reported."""
    name = f"{system.module.replace('.', '_')}-{index_key(system, prep)}"
    index = work / prep.corpus.name / "index" / name
    done = index / ".built.json"
    if done.is_file():
        return index, json.loads(done.read_text(encoding="utf-8"))
    log(f"  building {system.module} index of {prep.corpus.name} ({prep.docs} docs)")
    run = run_worker(["build", system.module, str(prep.dir), str(index), "--model",
                      str(model_dir)], label=f"{system.module} build",
                     log_path=work / "logs" / f"{prep.corpus.name}-{system.module}-build.log")
    done.write_text(json.dumps(run.events["built"]) + "\n", encoding="utf-8")
    return index, run.events["built"]


def measure_once(system: System, prep: Prepared, index: Path, model_dir: Path, work: Path,
                 k: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    run = run_worker(["measure", system.module, str(index), str(prep.queries), "--model",
                      str(model_dir), "--mode", system.mode, "--k", str(k)],
                     label=f"{system.name} on {prep.corpus.name}",
                     log_path=work / "logs" / f"{prep.corpus.name}-{system.name}-measure.log")
    ready, done = run.events["ready"], run.events["done"]
    return {"cold_start_s": run.at_s["ready"], "rss_mb": ready["rss_mb"],
            "phases_s": ready["phases_s"], "runs": done["runs"],
            "rss_peak_mb": done["rss_peak_mb"], "load_1min": round(load, 2)}


def compare_corpus(
    prep: Prepared, systems: list[System], work: Path, model_dir: Path, *, repeats: int,
    http_levels: tuple[int, ...], k: int, log: Log,
) -> dict[str, Any]:
    built = {s.module: build_index(s, prep, work, model_dir, log) for s in systems}
    indexes = {m: b[0] for m, b in built.items()}
    measured: dict[str, list[dict[str, Any]]] = {s.name: [] for s in systems}
    for r in range(repeats):
        for s in systems[r % len(systems):] + systems[:r % len(systems)]:  # take turns
            m = measure_once(s, prep, indexes[s.module], model_dir, work, k)
            measured[s.name].append(m)
            log(f"  [{r + 1}/{repeats}] {s.name}: first answer {m['cold_start_s']:.2f} s, "
                f"RSS {m['rss_mb']:.0f} MB (load {m['load_1min']})")
    rows = {s.name: summarize(s.mode, measured[s.name], prep.corpus.gains,
                              dir_bytes(indexes[s.module], skip=s.model_files)) for s in systems}
    for s in systems:
        if s.model_files:
            rows[s.name]["query_model_mb"] = round(
                dir_bytes(indexes[s.module], only=s.model_files) / 1e6, 1)
    out: dict[str, Any] = {
        "docs": prep.docs, "queries": len(prep.corpus.queries),
        "judged": len(prep.corpus.gains), "note": prep.corpus.note, "k": k,
        "snapshot": prep.snapshot.name, "systems": rows, "ratios": ratios(rows),
        "builds": {m: b[1] for m, b in built.items()},
    }
    ours = next((s for s in systems if s.module == "snapsearch"), None)
    if ours is not None and http_levels:
        log(f"  snapsearch serve on {prep.corpus.name}: HTTP at concurrency {http_levels}")
        try:
            out["http"] = serve_bench(store_of(indexes[ours.module]),
                                      [t for _, t in prep.corpus.queries], http_levels,
                                      work / "logs" / prep.corpus.name, log=log)
        except PeerError as exc:  # the in-process figures stand; the table says why HTTP lacks
            log(f"  snapsearch serve failed: {exc}")
            out["http"] = {"error": str(exc)}
    return out


def run_peers(
    corpora: list[PeerCorpus], systems: list[System], *, root: Path, work: Path,
    encoder: Encoder, model_dir: Path, repeats: int = 3, http_levels: tuple[int, ...] = (1, 8, 32),
    k: int = 10, log: Log = print,
) -> dict[str, Any]:
    started = time.time()
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(),
                    "load_at_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": versions(), "model_dir": str(model_dir), "repeats": repeats,
        "model_dir_mb": round(dir_bytes(model_dir) / 1e6, 1),
        "method": ("fresh process per measurement; systems take turns; medians over repeats; "
                   "every system encodes queries on one thread with its own runtime; documents "
                   "indexed from the same precomputed vectors; index MB leaves out the query "
                   "model (snapsearch's snapshot carries its ONNX encoder: query_model_mb; the "
                   "peers load the installed model directory: model_dir_mb)"),
        "corpora": {},
    }
    for corpus in corpora:
        log(f"{corpus.name}: {corpus.note}")
        prep = prepare(corpus, root, work, encoder, log=log)
        out["corpora"][corpus.name] = compare_corpus(
            prep, systems, work, model_dir, repeats=repeats, http_levels=http_levels, k=k,
            log=log)
    out["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["seconds"] = round(time.time() - started, 1)
    out["targets"] = targets(out["corpora"])
    return out


def choose(names: list[str] | None, known: Mapping[str, System] = SYSTEMS) -> list[System]:
    chosen = names or list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}: expected one of {', '.join(known)}")
    return [known[n] for n in chosen]
