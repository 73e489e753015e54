"""Dagster resources: the store/settings and the embedding model (live, or a fake for tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dagster import ConfigurableResource

from pipelines.settings import Settings
from snapsearch.format.model import Encoder, HashingEncoder, SentenceTransformerEncoder


class StoreResource(ConfigurableResource):  # type: ignore[type-arg]
    """Where snapshots live and what to build. Defaults come from SNAPSEARCH_* settings."""

    root: str = ""
    source: str = ""
    suite: str = ""
    force: bool = False

    def settings(self) -> Settings:
        s = Settings()
        update: dict[str, object] = {}
        if self.root:
            update["root"] = Path(self.root)
        if self.source:
            update["source"] = self.source
        if self.suite:
            update["suite"] = None if self.suite == "none" else Path(self.suite)
        return s.model_copy(update=update)


@lru_cache(maxsize=4)
def load_encoder(backend: str) -> Encoder:
    """One encoder per process and backend (the real model takes seconds to load)."""
    if backend == "minilm":
        return SentenceTransformerEncoder()
    if backend.startswith("hashing"):
        return HashingEncoder()
    raise ValueError(f"unknown encoder backend {backend!r}: use 'minilm' (or 'hashing' in tests)")


class EncoderResource(ConfigurableResource):  # type: ignore[type-arg]
    """The pinned embedding model. 'minilm' is the real default; 'hashing' is for unit tests."""

    backend: str = "minilm"

    def get(self) -> Encoder:
        return load_encoder(self.backend)
