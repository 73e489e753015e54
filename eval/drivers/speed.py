"""The engine's own cost around the query encoder, and the query-embedding cache, in-process.

For each suite query and mode: the encode alone (the encoder called directly); the search with
the query's embedding in the cache, which is what the engine adds (retrievers, kind features,
fusion, paging, rows), on its first sight of the query and then steady (median of ``rounds``,
wall and CPU time); and the search with no query cache (the encode paid every time). p50/p95
over the queries. The rankings (ids and scores of every query in every mode, k = 10) are
digested, so a speed change can show it moved no result.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.harness import MODES
from eval.metrics import percentile
from eval.suite import load_suite
from snapsearch.format.model import CANARY_TEXT, Encoder
from snapsearch.format.reader import Snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import Mode, SearchRequest

Log = Callable[[str], None]


def _request(query: str, filters: dict[str, Any], mode: Mode, k: int) -> SearchRequest:
    return SearchRequest(query=query[:512] or "?", limit=k, mode=mode, filters=filters)


def _median_ms(fn: Callable[[Any], Any], arg: Any, rounds: int) -> tuple[float, float]:
    """Median wall and CPU (process) time of ``fn(arg)`` over ``rounds`` calls, in ms. On a
    shared machine the CPU time is the steadier of the two."""
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(arg)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _spread(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
            "max_ms": round(max(ms), 3)}


def _engine(snap: Snapshot, encoder: Encoder, mode: Mode, *, query_cache: int) -> SearchEngine:
    """A fresh engine after the server's warm-up query (which loads lazy features)."""
    engine = SearchEngine(snap, encoder, query_cache=query_cache)
    engine.search(SearchRequest(query=CANARY_TEXT, mode=mode, limit=1))
    return engine


def measure_engine(
    snap: Snapshot, suite_path: Path, encoder: Encoder, *, rounds: int = 5, k: int = 10,
    modes: tuple[Mode, ...] = MODES, log: Log = print,
) -> dict[str, Any]:
    """Per mode: the engine's cost with every embedding in the query cache, on its first sight
    of each query (``first``: phrase scores and filter masks not cached yet) and then steady
    (median of ``rounds``, wall and CPU); the whole search with no query cache (``uncached``,
    the encode paid each time); the encode alone; the rankings' digest."""
    suite = load_suite(suite_path)
    queries = [(q.query, dict(q.filters or {})) for q in suite]
    texts = list(dict.fromkeys(q[:512] or "?" for q, _ in queries))
    for t in texts[:5]:  # warm the encoder (first calls allocate)
        encoder.encode([t])
    encode = {t: _median_ms(encoder.encode, [t], rounds)[0] for t in texts}
    out: dict[str, Any] = {
        "queries": len(queries), "rounds": rounds, "k": k,
        "encode": _spread(list(encode.values())),
    }
    rankings: dict[str, list[list[tuple[str, float]]]] = {}
    for mode in modes:
        log(f"{mode}: first, steady and uncached passes over {len(queries)} queries")
        reqs = [_request(q, f, mode, k) for q, f in queries]
        engine = _engine(snap, encoder, mode, query_cache=len(texts) + 16)
        if mode != "lexical":
            for t in texts:
                engine.embed_query(t)
        first, ranked = [], []
        for req in reqs:
            t0 = time.perf_counter()
            resp = engine.search(req)
            first.append((time.perf_counter() - t0) * 1000)
            ranked.append([(h.id, h.score) for h in resp.hits])
        rankings[mode] = ranked
        steady = [_median_ms(engine.search, req, rounds) for req in reqs]
        uncached = _engine(snap, encoder, mode, query_cache=0)
        for req in reqs:  # phrase scores and masks warm: the uncached cost is the encode's
            uncached.search(req)
        miss = [_median_ms(uncached.search, req, rounds)[0] for req in reqs]
        fig: dict[str, Any] = {
            "first": _spread(first),
            "steady": _spread([w for w, _ in steady]),
            "steady_cpu": _spread([c for _, c in steady]),
            "uncached": _spread(miss),
            "digest": _digest(ranked),
        }
        if mode != "lexical":
            fig["uncached_minus_encode"] = _spread(
                [m - encode[r.query] for m, r in zip(miss, reqs, strict=True)])
        out[mode] = fig
    out["digest"] = _digest(rankings)
    out["rankings"] = {m: [[list(h) for h in r] for r in rs] for m, rs in rankings.items()}
    return out


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()[:16]


def print_speed(figures: dict[str, Any], title: str) -> None:
    enc = figures["encode"]
    print(f"\n{title}: {figures['queries']} queries, median of {figures['rounds']} rounds each")
    print(f"query encode alone: p50 {enc['p50_ms']:.2f} ms  p95 {enc['p95_ms']:.2f} ms")
    cols = [("first", "first sight"), ("steady", "steady"), ("steady_cpu", "steady CPU"),
            ("uncached", "uncached"), ("uncached_minus_encode", "uncached - encode")]
    print(f"{'':<9}" + "".join(f"{label:>18}" for _, label in cols))
    print(f"{'mode':<9}" + "".join(f"{'p50':>9}{'p95':>9}" for _ in cols) + "  digest")
    for mode in MODES:
        f = figures.get(mode)
        if f is None:
            continue
        cells = "".join(
            f"{f[key]['p50_ms']:>9.2f}{f[key]['p95_ms']:>9.2f}" if key in f else f"{'-':>18}"
            for key, _ in cols
        )
        print(f"{mode:<9}{cells}  {f['digest']}")
    print(f"rankings digest (every mode): {figures['digest']}")
