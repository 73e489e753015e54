"""One peer system in its own fresh process: build its index, or measure it.

    python -m eval.drivers.peer_worker build   SYSTEM CORPUS_DIR INDEX_DIR
    python -m eval.drivers.peer_worker measure SYSTEM INDEX_DIR QUERIES.jsonl --mode M --k K

SYSTEM is a registered name (``snapsearch``, ``txtai``, ``lancedb``, ``chroma``) or the dotted
path of a module that provides the same three names (a test's fake peer)::

    MODES: tuple[str, ...]                                    the modes it answers, first = default
    def build(corpus: Path, index_dir: Path, model_dir: Path) -> dict | None  # facts to keep
    def open_index(index_dir: Path, model_dir: Path, mode: str) -> Index   # .search(text, k) -> ids

The protocol: the worker moves its own stdout to stderr (so whatever a library prints cannot
corrupt it) and writes one JSON object a line on the original stdout: ``{"event": "built"}``,
then for ``measure`` ``{"event": "ready", ...}`` the moment the first query is answered (the
parent's clock turns that into spawn -> first answer) and ``{"event": "done", "runs": [...]}``;
``{"event": "error", "message": ...}`` and exit code 1 on failure. This module imports only the
standard library at the top: what a system costs to import is measured, not hidden here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Protocol

T_START = time.perf_counter()
WARMUP = ("warm up query one", "second warm up query about cells", "third warm up: 10k resistor")


class Index(Protocol):
    def search(self, text: str, k: int) -> list[str]: ...


def system_module(name: str) -> ModuleType:
    """The adapter of a registered system, or any module named by its dotted path."""
    if name == "snapsearch":
        from eval.drivers import peer_snapsearch as mod
    elif name == "txtai":
        from eval.drivers import peer_txtai as mod
    elif name == "lancedb":
        from eval.drivers import peer_lancedb as mod
    elif name == "chroma":
        from eval.drivers import peer_chroma as mod
    elif "." in name:
        mod = importlib.import_module(name)
    else:
        raise ValueError(f"unknown peer system {name!r}: expected snapsearch, txtai, lancedb, "
                         "chroma or a module's dotted path")
    return mod


def rss_mb(which: str = "VmRSS", pid: int | str = "self") -> float:
    """Resident memory of a process from /proc (``VmHWM``: its peak); NaN where unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(which + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def read_queries(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(str(o["id"]), str(o["text"])) for o in map(json.loads, f) if o]


def _emit(out: IO[str], event: str, **fields: Any) -> None:
    out.write(json.dumps({"event": event, **fields}) + "\n")
    out.flush()


def measure(mod: ModuleType, index_dir: Path, queries: Path, mode: str, k: int,
            model_dir: Path, out: IO[str]) -> None:
    todo = read_queries(queries)
    t_import = time.perf_counter()
    index: Index = mod.open_index(index_dir, model_dir, mode)
    t_open = time.perf_counter()
    first = index.search(todo[0][1], k)
    t_first = time.perf_counter()
    _emit(out, "ready", rss_mb=round(rss_mb(), 1), first_ids=first,
          phases_s={"interpreter_and_import": round(t_import - T_START, 3),
                    "open": round(t_open - t_import, 3), "first_query": round(t_first - t_open, 3)})
    for text in WARMUP:  # not measured, and never one of the measured queries (no cache hits)
        index.search(text, k)
    runs = []
    for qid, text in todo:
        t0 = time.perf_counter()
        ids = index.search(text, k)
        runs.append({"id": qid, "ids": ids, "ms": (time.perf_counter() - t0) * 1000})
    _emit(out, "done", runs=runs, rss_end_mb=round(rss_mb(), 1),
          rss_peak_mb=round(rss_mb("VmHWM"), 1))
    close = getattr(index, "close", None)
    if close:
        close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.drivers.peer_worker")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("system")
    b.add_argument("corpus", type=Path)
    b.add_argument("index", type=Path)
    b.add_argument("--model", type=Path, required=True)
    m = sub.add_parser("measure")
    m.add_argument("system")
    m.add_argument("index", type=Path)
    m.add_argument("queries", type=Path)
    m.add_argument("--model", type=Path, required=True)
    m.add_argument("--mode", default=None)
    m.add_argument("--k", type=int, default=10)
    args = p.parse_args(argv)

    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a library's prints go to stderr; `out` carries only the protocol
    sys.stdout = sys.stderr
    try:
        mod = system_module(args.system)
        if args.command == "build":
            t0 = time.perf_counter()
            args.index.mkdir(parents=True, exist_ok=True)
            info = mod.build(args.corpus, args.index, args.model) or {}
            _emit(out, "built", seconds=round(time.perf_counter() - t0, 2), **info)
        else:
            mode = args.mode or mod.MODES[0]
            if mode not in mod.MODES:
                raise ValueError(f"{args.system} answers {', '.join(mod.MODES)}, not {mode!r}")
            measure(mod, args.index, args.queries, mode, args.k, args.model, out)
        return 0
    except Exception as exc:  # reported to the parent, which names the system
        traceback.print_exc()
        _emit(out, "error", message=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        out.close()


if __name__ == "__main__":
    sys.exit(main())
