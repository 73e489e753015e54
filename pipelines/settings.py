"""Pipeline settings: declared once, typed, read from ``SNAPSEARCH_*`` environment variables.

Settings that change a snapshot's bytes are recorded in its manifest (``build_fingerprint``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from snapsearch.format.manifest import FusionSettings, HnswSettings

_TOKENIZER = re.compile(r"^[A-Za-z0-9_.' ]{1,200}$")
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SOURCE = REPO_ROOT / "data" / "sample" / "parts-3k.jsonl.gz"
SAMPLE_SUITE = REPO_ROOT / "eval" / "suites" / "parts-sample.jsonl"


class GateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SNAPSEARCH_GATE_", extra="forbid")

    ann_recall_min: float = 0.98
    ann_recall_queries: int = 200
    hit1_min: float = 0.6
    hit10_min: float = 0.85
    mrr_min: float = 0.65
    # regression vs the snapshot `current` points at (absolute drop allowed)
    regression_tolerance: float = 0.02
    latency_p50_ms: float = 50.0
    latency_p95_ms: float = 150.0
    latency_queries: int = 60


class Settings(BaseSettings):
    """Everything the pipeline reads. Environment: SNAPSEARCH_<FIELD> (e.g. SNAPSEARCH_ROOT)."""

    model_config = SettingsConfigDict(env_prefix="SNAPSEARCH_", extra="forbid")

    root: Path = Field(default=REPO_ROOT / "snapshots", description="snapshot store root")
    source: str = Field(default=str(SAMPLE_SOURCE), description="file, directory or http(s) URL")
    kind: str = Field(default="parts", description="record kind of the source")
    collection: str = Field(default="parts", description="collection name in the snapshot")
    suite: Path | None = Field(default=SAMPLE_SUITE, description="quality query suite (JSONL)")
    fetch_timeout_s: float = 30.0
    fetch_retries: int = 3
    max_reject_rate: float = 0.01
    retention: int = 5
    batch_size: int = 64
    tokenizer: str | None = Field(
        default=None,
        description="FTS5 tokenizer of the collection, e.g. 'unicode61' or 'trigram' "
        "(default: the record kind's own)",
    )
    hnsw: HnswSettings = HnswSettings()
    fusion: FusionSettings = FusionSettings()
    gates: GateSettings = Field(default_factory=GateSettings)

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_words(cls, v: str | None) -> str | None:
        if v is not None and not _TOKENIZER.match(v):
            raise ValueError(
                "an FTS5 tokenize argument: words, digits, '_', '.' and single quotes "
                "(e.g. \"porter unicode61 remove_diacritics 2\" or \"trigram\")"
            )
        return v or None

    def build_fingerprint(self) -> dict[str, Any]:
        """The settings that change a snapshot's bytes (recorded in the manifest)."""
        return {
            "kind": self.kind,
            "collection": self.collection,
            "max_reject_rate": self.max_reject_rate,
            "tokenizer": self.tokenizer,
            "hnsw": self.hnsw.model_dump(),
            "fusion": self.fusion.model_dump(),
        }
