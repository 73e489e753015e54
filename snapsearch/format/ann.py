"""The ANN seam: hnswlib for speed, an exact NumPy twin for truth.

Both take L2-normalised float32 vectors and score by inner product (= cosine). Labels are the
row positions of the vector matrix. ``query`` never raises hnswlib's "fewer than k" error: it
returns at most ``min(k, len)`` results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .manifest import HnswSettings


class AnnIndex(Protocol):
    def query(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows for one query vector: (positions int64, cosine similarities float32)."""
        ...

    def __len__(self) -> int: ...


class ExactIndex:
    """Brute-force inner product over the whole matrix (or a subset of rows)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def query(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_topk(self.vectors, vector, k)


def exact_topk(
    vectors: np.ndarray, vector: np.ndarray, k: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product, optionally restricted to ``rows`` (positions)."""
    mat = vectors if rows is None else vectors[rows]
    n = mat.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    sims = mat @ vector.astype(np.float32, copy=False)
    if k < n:
        part = np.argpartition(-sims, k - 1)[:k]
    else:
        part = np.arange(n)
    # stable order: score desc, then position asc (deterministic ties)
    order = np.lexsort((part, -sims[part]))
    top = part[order]
    pos = top if rows is None else rows[top]
    return pos.astype(np.int64), sims[top].astype(np.float32)


class HnswIndex:
    """hnswlib index; ``ef`` is set once at load (hnswlib does not save it).

    hnswlib raises "fewer than k" when its graph walk cannot reach ``k`` elements (a k that
    covers most of the index, or a graph split into unlinked parts). ``exact`` is the twin
    that answers then, so a query never comes back empty just because k was large.
    """

    def __init__(self, index: object, count: int, exact: ExactIndex | None = None) -> None:
        self._index = index
        self._count = count
        self._exact = exact

    def __len__(self) -> int:
        return self._count

    @classmethod
    def build(cls, vectors: np.ndarray, settings: HnswSettings) -> HnswIndex:
        import hnswlib

        n, dim = vectors.shape
        index = hnswlib.Index(space=settings.space, dim=dim)
        index.init_index(
            max_elements=max(n, 1),
            M=settings.M,
            ef_construction=settings.ef_construction,
            random_seed=settings.seed,
        )
        if n:
            # one thread: insertion order fixed, so the same vectors give the same bytes
            index.add_items(vectors, np.arange(n), num_threads=1)
        index.set_ef(settings.ef_search)
        return cls(index, n, ExactIndex(vectors))

    def save(self, path: Path) -> None:
        self._index.save_index(str(path))  # type: ignore[attr-defined]

    @classmethod
    def load(
        cls, path: Path, dim: int, count: int, settings: HnswSettings,
        exact: ExactIndex | None = None,
    ) -> HnswIndex:
        """Load a saved index; ``exact`` (the same vectors) answers what hnswlib cannot."""
        import hnswlib

        index = hnswlib.Index(space=settings.space, dim=dim)
        index.load_index(str(path), max_elements=max(count, 1))
        index.set_ef(settings.ef_search)
        index.set_num_threads(1)
        return cls(index, count, exact)

    def query(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self._count)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        try:
            labels, dists = self._index.knn_query(vector.reshape(1, -1), k=k)  # type: ignore[attr-defined]
        except RuntimeError:  # "fewer than k": the graph walk did not reach k elements
            if self._exact is not None:
                return self._exact.query(vector, k)
            return self._fewer_than_k(vector, k)
        # 'ip' distance is 1 - inner product
        return labels[0].astype(np.int64), (1.0 - dists[0]).astype(np.float32)


    def _fewer_than_k(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Without an exact twin: the largest k hnswlib can answer (binary search)."""
        lo, hi = 0, k  # lo answers, hi does not
        best: tuple[np.ndarray, np.ndarray] = (
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        )
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                labels, dists = self._index.knn_query(vector.reshape(1, -1), k=mid)  # type: ignore[attr-defined]
            except RuntimeError:
                hi = mid
                continue
            lo = mid
            best = (labels[0].astype(np.int64), (1.0 - dists[0]).astype(np.float32))
        return best


def recall_at_k(ann: AnnIndex, exact: ExactIndex, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-k that the ANN index also returns."""
    if len(queries) == 0:
        return 1.0
    total = 0.0
    for q in queries:
        truth = set(exact.query(q, k)[0].tolist())
        got = set(ann.query(q, k)[0].tolist())
        total += len(truth & got) / max(len(truth), 1)
    return total / len(queries)
