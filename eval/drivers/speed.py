"""The engine's own cost around the query encoder, and the query-embedding cache, in-process.

For each suite query: the encode alone (the encoder called directly), the search with its
embedding in the cache (what the engine adds: retrievers, features, fusion, paging, rows), and
the search with no cache at all (the encode paid every time). Every figure is a median over
``rounds`` repetitions of the query, then p50/p95 over the queries. The rankings (ids and scores
of every query in every mode) are digested, so a speed change can show it moved no result.
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
from snapsearch.format.model import Encoder
from snapsearch.format.reader import Snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import Mode, SearchRequest

Log = Callable[[str], None]


def _request(query: str, filters: dict[str, Any], mode: Mode, k: int) -> SearchRequest:
    return SearchRequest(query=query[:512] or "?", limit=k, mode=mode, filters=filters)


def _median_ms(fn: Callable[[Any], Any], arg: Any, rounds: int) -> float:
    """Median wall time of ``fn(arg)`` over ``rounds`` calls, in ms."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _spread(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
            "max_ms": round(max(ms), 3)}


def measure_engine(
    snap: Snapshot, suite_path: Path, encoder: Encoder, *, rounds: int = 5, k: int = 10,
    modes: tuple[Mode, ...] = MODES, log: Log = print,
) -> dict[str, Any]:
    """Encode, cached search (engine overhead) and uncached search figures per mode, and the
    rankings' digest per mode (see the module docstring)."""
    suite = load_suite(suite_path)
    queries = [(q.query, dict(q.filters or {})) for q in suite]
    texts = list(dict.fromkeys(q[:512] or "?" for q, _ in queries))
    for t in texts[:5]:  # warm the encoder (first calls allocate)
        encoder.encode([t])
    encode = {t: _median_ms(encoder.encode, [t], rounds) for t in texts}
    out: dict[str, Any] = {
        "queries": len(queries), "rounds": rounds, "k": k,
        "encode": _spread(list(encode.values())),
    }
    rankings: dict[str, list[list[tuple[str, float]]]] = {}
    for mode in modes:
        log(f"{mode}: cached and uncached passes over {len(queries)} queries")
        cached = SearchEngine(snap, encoder)
        uncached = SearchEngine(snap, encoder, query_cache=0)
        reqs = [_request(q, f, mode, k) for q, f in queries]
        ranked = []
        for req in reqs:  # fills the cache; the rankings of record
            resp = cached.search(req)
            ranked.append([(h.id, h.score) for h in resp.hits])
        rankings[mode] = ranked
        hit_ms, miss_ms, overhead_miss = [], [], []
        for req in reqs:
            hit_ms.append(_median_ms(cached.search, req, rounds))
            total = _median_ms(uncached.search, req, rounds)
            miss_ms.append(total)
            if mode != "lexical":
                overhead_miss.append(total - encode[req.query])
        hits, misses = cached.queries.hits, cached.queries.misses
        fig: dict[str, Any] = {
            "cached": _spread(hit_ms),  # = the engine's own cost (the embedding is a cache hit)
            "uncached": _spread(miss_ms),
            "cache_hits": hits, "cache_misses": misses,
            "digest": _digest(ranked),
        }
        if overhead_miss:
            fig["uncached_minus_encode"] = _spread(overhead_miss)
        out[mode] = fig
        cached.queries.clear()
    out["digest"] = _digest(rankings)
    out["rankings"] = {m: [[list(h) for h in r] for r in rs] for m, rs in rankings.items()}
    return out


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()[:16]


def print_speed(figures: dict[str, Any], title: str) -> None:
    enc = figures["encode"]
    print(f"\n{title}: {figures['queries']} queries, median of {figures['rounds']} rounds each")
    print(f"query encode alone: p50 {enc['p50_ms']:.2f} ms  p95 {enc['p95_ms']:.2f} ms")
    head = (f"{'mode':<9}{'engine p50':>11}{'p95':>8}{'max':>8}{'uncached p50':>14}{'p95':>8}"
            f"{'uncached-enc p50':>18}{'p95':>8}{'cache speedup':>15}  digest")
    print(head)
    for mode in MODES:
        f = figures.get(mode)
        if f is None:
            continue
        c, u = f["cached"], f["uncached"]
        o = f.get("uncached_minus_encode")
        ov = f"{o['p50_ms']:>18.2f}{o['p95_ms']:>8.2f}" if o else f"{'-':>18}{'-':>8}"
        speedup = u["p50_ms"] / c["p50_ms"] if c["p50_ms"] > 0 else float("nan")
        print(f"{mode:<9}{c['p50_ms']:>11.2f}{c['p95_ms']:>8.2f}{c['max_ms']:>8.2f}"
              f"{u['p50_ms']:>14.2f}{u['p95_ms']:>8.2f}{ov}{speedup:>14.1f}x  {f['digest']}")
    print(f"rankings digest (every mode): {figures['digest']}")
