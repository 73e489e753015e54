"""Query embeddings: a bounded, thread-safe LRU in front of the encoder, with hit/miss counts."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from snapsearch.format.model import Encoder


class QueryEmbeddings:
    def __init__(self, encoder: Encoder | None, size: int = 2048) -> None:
        self.encoder = encoder
        self.size = size
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

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
                self.hits += 1
                return cached
            self.misses += 1
        vec: np.ndarray = self.encoder.encode([text])[0]
        if self.size > 0:
            with self._lock:
                self._cache[text] = vec
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return vec
