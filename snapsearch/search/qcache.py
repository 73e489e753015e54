"""Query embeddings: a bounded, thread-safe LRU in front of the encoder, with hit/miss counts.

The counts live in a ``CacheStats`` that several caches may share (the server keeps one for
the process, so its counters only ever grow across snapshot swaps: ``serve.metrics``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from snapsearch.format.model import Encoder


class CacheStats:
    """Hits and misses, counted under a lock."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1


class QueryEmbeddings:
    def __init__(
        self, encoder: Encoder | None, size: int = 2048, stats: CacheStats | None = None
    ) -> None:
        self.encoder = encoder
        self.size = size
        self.stats = stats or CacheStats()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        return self.stats.hits

    @property
    def misses(self) -> int:
        return self.stats.misses

    def __len__(self) -> int:
        return len(self._cache)

    def embed(self, text: str) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError(
                "this engine has no encoder: vector and hybrid modes are unavailable"
            )
        with self._lock:
            cached = self._cache.pop(text, None)
            if cached is not None:
                self._cache[text] = cached  # most recently used last
        self.stats.count(cached is not None)
        if cached is not None:
            return cached
        vec: np.ndarray = self.encoder.encode([text])[0]
        if self.size > 0:
            with self._lock:
                self._cache[text] = vec
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return vec

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
