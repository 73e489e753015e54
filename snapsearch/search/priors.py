"""Feedback priors at query time: a bounded, soft boost.

A build that read feedback events bakes a weight in [-1, 1] per record that got votes, and one
per collection, into the snapshot (``snapsearch.format.priors``, the manifest's ``priors``). In
hybrid search a record's score moves by at most ``max_boost`` (the manifest's, 0.05 by default)
times its weight, after the kind's ranking: it reorders records the kind ranks alike (within a
catalogue-feature tier), never lifts a record over one that matches more of the query, and never
touches exact id or part-number matches. A multi-collection search scales a collection's hits by
``1 + COLLECTION_BOOST * weight``. A snapshot without priors ranks exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from snapsearch.format.priors import read_priors
from snapsearch.format.reader import Collection, Snapshot

COLLECTION_BOOST = 0.1


class Scored(Protocol):
    pos: int
    score: float
    reasons: list[str]
    exact: Any


@dataclass(frozen=True)
class RecordPriors:
    """One collection's priors: position -> weight, and the most a weight moves a score."""

    weights: Mapping[int, float] = field(default_factory=dict)
    max_boost: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.weights) and self.max_boost > 0

    def boost(self, pos: int) -> float:
        return self.max_boost * self.weights.get(pos, 0.0)

    def apply(self, candidates: Iterable[Scored]) -> None:
        """Move each candidate's score by its boost (clamped to [0, 1]); exact matches stay."""
        if not self:
            return
        for c in candidates:
            b = self.boost(c.pos)
            if b and c.exact is None:
                c.score = min(1.0, max(0.0, c.score + b))
                c.reasons.append(f"feedback {b:+.3f}")


NO_PRIORS = RecordPriors()


def _positions(col: Collection, ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = f"SELECT id, pos FROM {col.lookup} WHERE id IN ({','.join('?' * len(chunk))})"
        out.update({str(r[0]): int(r[1]) for r in col.conn.execute(q, chunk)})
    return out


def load_priors(snapshot: Snapshot) -> dict[str, RecordPriors]:
    """Each collection's priors (collections without any are left out)."""
    info = snapshot.manifest.priors
    if info is None:
        return {}
    weights = read_priors(snapshot.path, snapshot.manifest)
    out: dict[str, RecordPriors] = {}
    for name, by_id in weights.items():
        col = snapshot.collections.get(name)
        if col is None or not by_id:
            continue
        pos = _positions(col, sorted(by_id))
        out[name] = RecordPriors({pos[r]: w for r, w in by_id.items() if r in pos},
                                 info.max_boost)
    return out


def collection_factor(snapshot: Snapshot, name: str) -> float:
    """What a collection's prior multiplies its hits' merged scores by: 1 without feedback."""
    info = snapshot.manifest.priors
    if info is None:
        return 1.0
    return 1.0 + COLLECTION_BOOST * max(-1.0, min(1.0, info.collections.get(name, 0.0)))
