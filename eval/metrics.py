"""Ranking metrics for the query suites: pure functions over ids, no I/O.

Conventions shared by every ``*_at_k`` function:

- ``ranked`` is the result list, best first; only its first ``k`` entries count and a repeated
  id counts once, at its first position (a result list cannot earn credit twice for one part);
- ``k`` must be at least 1;
- a query with nothing relevant scores 0.0 (callers report such queries apart rather than
  averaging them in).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "percentile",
    "recall_at_k",
    "summarize",
]


def _top_k(ranked: Sequence[str], k: int) -> list[str]:
    """The first ``k`` distinct ids of ``ranked``, in order."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    seen: set[str] = set()
    out: list[str] = []
    for doc_id in ranked:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        out.append(doc_id)
        if len(out) == k:
            break
    return out


def _dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranked_ids: Sequence[str], gains: Mapping[str, float], k: int = 10) -> float:
    """Normalised DCG with graded (linear) gains and the standard ``1/log2(rank + 1)`` discount.

    The ideal DCG is computed from ``gains`` itself (its ``k`` largest positive values), so ids
    with a gain that never appear in ``ranked_ids`` still lower the score. Ids missing from
    ``gains`` have gain 0; negative gains are not allowed. 0.0 when no gain is positive.
    """
    if any(g < 0 for g in gains.values()):
        raise ValueError("gains must be >= 0")
    top = _top_k(ranked_ids, k)
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    return _dcg(gains.get(doc_id, 0.0) for doc_id in top) / _dcg(ideal)


def mrr_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int = 10) -> float:
    """Reciprocal rank (1-based) of the first relevant id within the top ``k``; else 0.0."""
    for rank, doc_id in enumerate(_top_k(ranked, k), start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int = 100) -> float:
    """Share of the relevant ids found in the top ``k``; 0.0 when nothing is relevant."""
    if not relevant:
        return 0.0
    found = sum(1 for doc_id in _top_k(ranked, k) if doc_id in relevant)
    return found / len(relevant)


def hit_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float:
    """1.0 when any relevant id is in the top ``k``, else 0.0."""
    return 1.0 if any(doc_id in relevant for doc_id in _top_k(ranked, k)) else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation, as ``numpy.percentile``."""
    if not values:
        raise ValueError("percentile of an empty list")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def summarize(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over the queries that report it (keys sorted).

    A query may leave a key out (e.g. compliance for an unsatisfiable query); that key's mean
    is then over the queries that have it. An empty input gives ``{}``.
    """
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in per_query:
        for key, value in row.items():
            totals[key] = totals.get(key, 0.0) + float(value)
            counts[key] = counts.get(key, 0) + 1
    return {key: totals[key] / counts[key] for key in sorted(totals)}
