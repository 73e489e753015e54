"""Runs queries through the same SearchEngine the server uses, and scores them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import Mode, SearchRequest

from .metrics import hit_at_k, mrr_at_k, ndcg_at_k, percentile, recall_at_k

MODES: tuple[Mode, ...] = ("vector", "lexical", "hybrid")


@dataclass(frozen=True)
class QueryRun:
    qid: str
    query: str
    ids: list[str]
    records: list[dict[str, Any]]
    ms: float
    match: str


def run_query(
    engine: SearchEngine,
    qid: str,
    text: str,
    mode: Mode,
    *,
    k: int = 100,
    filters: Mapping[str, Any] | None = None,
    collection: str | None = None,
) -> QueryRun:
    req = SearchRequest(
        query=text[:512] or "?", limit=min(k, 100), mode=mode, collection=collection,
        filters=dict(filters or {}),
    )
    t0 = time.perf_counter()
    resp = engine.search(req)
    ms = (time.perf_counter() - t0) * 1000
    return QueryRun(
        qid, text, [h.id for h in resp.hits], [h.record for h in resp.hits], ms, resp.match
    )


def score_runs(
    runs: Sequence[QueryRun], gains: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """nDCG@10, MRR@10, recall@100, hit@1, hit@10 over queries with judgments, plus p50/p95 ms."""
    judged = [r for r in runs if gains.get(r.qid)]
    out: dict[str, float] = {"queries": float(len(judged))}
    if judged:
        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs)

        rel = {r.qid: {d for d, g in gains[r.qid].items() if g > 0} for r in judged}
        out["ndcg@10"] = mean([ndcg_at_k(r.ids, gains[r.qid], 10) for r in judged])
        out["mrr@10"] = mean([mrr_at_k(r.ids, rel[r.qid], 10) for r in judged])
        out["recall@100"] = mean([recall_at_k(r.ids, rel[r.qid], 100) for r in judged])
        out["hit@1"] = mean([hit_at_k(r.ids, rel[r.qid], 1) for r in judged])
        out["hit@10"] = mean([hit_at_k(r.ids, rel[r.qid], 10) for r in judged])
    ms = [r.ms for r in runs]
    out["p50_ms"] = percentile(ms, 50) if ms else 0.0
    out["p95_ms"] = percentile(ms, 95) if ms else 0.0
    return out
