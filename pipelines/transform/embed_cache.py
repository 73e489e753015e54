"""Embedding cache shared across builds, keyed by (model fingerprint, sha256 of the
embedded text)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snapsearch.format import layout
from snapsearch.format.hashing import sha256_text
from snapsearch.format.model import Encoder, Progress


@dataclass(frozen=True)
class EncodeStats:
    reused: int  # texts whose vector came from the cache
    encoded: int  # distinct texts the encoder ran on
    encode_seconds: float
    repeated: int = 0  # texts that repeat another text of this build (encoded once, not counted)


class EmbeddingCache:
    def __init__(self, root: Path) -> None:
        d = layout.cache_dir(root)
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / layout.EMBED_CACHE
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, text_sha TEXT NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, text_sha)) WITHOUT ROWID"
        )

    def close(self) -> None:
        self._db.close()

    def get_many(self, model: str, shas: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(shas))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            q = (
                "SELECT text_sha, vec FROM emb WHERE model = ? "
                f"AND text_sha IN ({','.join('?' * len(chunk))})"
            )
            for sha, blob in self._db.execute(q, [model, *chunk]):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    out[sha] = vec
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
            ((model, sha, np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()),
        )
        self._db.commit()


def embed_with_cache(
    texts: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache | None,
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> tuple[np.ndarray, EncodeStats]:
    """Vectors for ``texts``; only texts the cache lacks are encoded."""
    import time

    pin = encoder.pin
    model = pin.fingerprint
    shas = [sha256_text(t) for t in texts]
    known = cache.get_many(model, shas, pin.dim) if cache else {}
    missing: dict[str, str] = {}
    for sha, text in zip(shas, texts, strict=True):
        if sha not in known and sha not in missing:
            missing[sha] = text
    t0 = time.perf_counter()
    fresh: dict[str, np.ndarray] = {}
    if missing:
        vecs = encoder.encode(list(missing.values()), batch_size=batch_size, progress=progress)
        fresh = dict(zip(missing.keys(), vecs, strict=True))
        if cache:
            cache.put_many(model, fresh)
    elif progress:
        progress(0, 0)
    seconds = time.perf_counter() - t0
    out = np.empty((len(texts), pin.dim), dtype=np.float32)
    for i, sha in enumerate(shas):
        out[i] = known[sha] if sha in known else fresh[sha]
    reused = sum(1 for s in shas if s in known)
    return out, EncodeStats(
        reused=reused, encoded=len(missing), encode_seconds=seconds,
        repeated=len(texts) - reused - len(missing),
    )
