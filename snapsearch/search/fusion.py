"""Score fusion: min-max convex combination and reciprocal rank fusion, both into [0, 1]."""

from __future__ import annotations

from collections.abc import Mapping


def minmax(scores: Mapping[int, float]) -> dict[int, float]:
    """Scale to [0, 1] over this query's candidates (all equal -> 1.0)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo <= 1e-12:
        return {k: 1.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def zscore(scores: Mapping[int, float]) -> dict[int, float]:
    """Standardise over this query's candidates (all equal -> 0.0)."""
    if not scores:
        return {}
    vals = list(scores.values())
    mean = sum(vals) / len(vals)
    std = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
    if std <= 1e-12:
        return {k: 0.0 for k in scores}
    return {k: (v - mean) / std for k, v in scores.items()}


def convex(
    dense: Mapping[int, float], lexical: Mapping[int, float], alpha: float,
    normalization: str = "minmax",
) -> dict[int, float]:
    """alpha * norm(dense) + (1 - alpha) * norm(lexical), in [0, 1].

    ``minmax``: each retriever scaled to [0, 1] over the candidates; a missing sub-score counts 0.
    ``zscore``: each standardised (a missing score counts as the lowest that retriever gave), the
    sum then min-max scaled to [0, 1].
    """
    if normalization == "zscore":
        d, lx = zscore(dense), zscore(lexical)
        d_floor, lx_floor = min(d.values(), default=0.0), min(lx.values(), default=0.0)
        keys = set(d) | set(lx)
        raw = {k: alpha * d.get(k, d_floor) + (1.0 - alpha) * lx.get(k, lx_floor) for k in keys}
        return minmax(raw)
    d, lx = minmax(dense), minmax(lexical)
    keys = set(d) | set(lx)
    return {k: alpha * d.get(k, 0.0) + (1.0 - alpha) * lx.get(k, 0.0) for k in keys}


def rrf(dense_ranked: list[int], lexical_ranked: list[int], k: int) -> dict[int, float]:
    """Reciprocal rank fusion, divided by its maximum (rank 1 in both) so it lies in [0, 1]."""
    out: dict[int, float] = {}
    for ranked in (dense_ranked, lexical_ranked):
        for rank, key in enumerate(ranked, 1):
            out[key] = out.get(key, 0.0) + 1.0 / (k + rank)
    top = 2.0 / (k + 1)
    return {key: v / top for key, v in out.items()}
