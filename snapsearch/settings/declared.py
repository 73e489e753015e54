"""The declarations: every ``SNAPSEARCH_*`` setting once, with its type, default and words.

A field ``foo`` of ``CommonSettings`` (and so of ``ServeSettings`` and ``PipelineSettings``,
which extend it) is read from ``SNAPSEARCH_<FOO>``; a field of ``GateSettings`` from
``SNAPSEARCH_GATE_<FOO>``; list and object fields (``collections``, ``hnsw``, ``fusion``) as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from snapsearch.format import layout
from snapsearch.format.manifest import FusionSettings, HnswSettings
from snapsearch.format.model import Encoder, EncoderBackend, load_encoder
from snapsearch.kinds import available_kinds

ENV_PREFIX = "SNAPSEARCH_"
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SOURCE = REPO_ROOT / "data" / "sample" / "parts-3k.jsonl.gz"
SAMPLE_SUITE = REPO_ROOT / "eval" / "suites" / "parts-sample.jsonl"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
_TOKENIZER = re.compile(r"^[A-Za-z0-9_.' ]{1,200}$")


class CommonSettings(BaseSettings):
    """What every command reads: where the store is and which embedding model to load."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    root: Path = Field(default=REPO_ROOT / "snapshots", description="snapshot store root")
    dagster_home: Path | None = Field(
        default=None,
        description="the store's Dagster instance (runs, materializations, checks), the "
        "DAGSTER_HOME of `dagster dev` (default: _dagster in the store root)",
    )
    encoder: EncoderBackend = Field(
        default="minilm",
        description="embedding model: 'minilm' (the pinned model) or 'hashing' (tests only)",
    )
    torch_threads: int = Field(
        default=1, ge=1, le=256,
        description="torch threads for encoding a query (1 stays fast when cores are busy)",
    )
    encode_threads: int = Field(
        default=0, ge=0, le=256, description="torch threads while a build encodes; 0: every core"
    )

    def dagster_home_dir(self) -> Path:
        """Where the store's Dagster instance lives."""
        return self.dagster_home or layout.dagster_dir(self.root)

    def encoder_factory(self) -> Callable[[], Encoder]:
        """Loads this process's one encoder for these settings (on the first call)."""
        return partial(
            load_encoder, self.encoder, threads=self.torch_threads,
            batch_threads=self.encode_threads or None,
        )


class ServeSettings(CommonSettings):
    """Everything the server reads."""

    host: str = Field(default="127.0.0.1", description="interface to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port")
    verify_checksums: bool = Field(
        default=True, description="verify every file's sha256 before serving a snapshot"
    )
    reload_poll_s: float = Field(
        default=2.0, ge=0.0, description="how often to check whether `current` moved; 0 disables"
    )
    close_grace_s: float = Field(
        default=30.0, ge=0.0,
        description="how long a replaced snapshot stays open for requests still using it",
    )
    search_threads: int = Field(
        default=4, ge=1, le=64,
        description="searches run at once in worker threads (more wait); keep near the core count",
    )
    log_level: LogLevel = Field(default="info", description="log level of the server's logs")


class GateSettings(BaseSettings):
    """Gate thresholds, read from ``SNAPSEARCH_GATE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "GATE_", extra="forbid")

    ann_recall_min: float = Field(default=0.98, description="ANN recall@10 vs exact, minimum")
    ann_recall_queries: int = Field(default=200, ge=1, description="queries of the ANN gate")
    hit1_min: float = Field(default=0.6, description="quality suite hit@1, minimum")
    hit10_min: float = Field(default=0.85, description="quality suite hit@10, minimum")
    mrr_min: float = Field(default=0.65, description="quality suite MRR@10, minimum")
    regression_tolerance: float = Field(
        default=0.02, description="drop allowed against the snapshot `current` points at"
    )
    latency_p50_ms: float = Field(default=50.0, description="search p50 budget (ms)")
    latency_p95_ms: float = Field(default=150.0, description="search p95 budget (ms)")
    latency_queries: int = Field(default=60, ge=1, description="queries of the latency gate")


class Collection(BaseModel):
    """One collection of a snapshot: its name, its record kind, where its records come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str = Field(min_length=1)
    source: str = Field(min_length=1, description="file, directory or http(s) URL")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        return layout.check_collection_name(v)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        known = available_kinds()
        if v not in known:
            raise ValueError(
                f"unknown record kind {v!r}: known kinds are {', '.join(sorted(known))}"
            )
        return v


DEFAULT_COLLECTIONS = (Collection(name="parts", kind="parts", source=str(SAMPLE_SOURCE)),)


class _EnvWithout(EnvSettingsSource):
    """The environment, less one nested field that reads its own variables."""

    def __init__(self, settings_cls: type[BaseSettings], field: str) -> None:
        super().__init__(settings_cls)
        self._skip = field

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k != self._skip}


class PipelineSettings(CommonSettings):
    """Everything the pipeline reads. What changes a snapshot's bytes is recorded in its manifest
    (``build_fingerprint``)."""

    collections: list[Collection] = Field(
        default=list(DEFAULT_COLLECTIONS), min_length=1,
        description="the snapshot's collections, a JSON list of {name, kind, source} "
        "(default: 'parts' from the bundled sample)",
    )
    source: str | None = Field(
        default=None, min_length=1,
        description="source of the one configured collection: file, directory or http(s) URL "
        "(default: the collection's own)",
    )
    suite: Path | None = Field(
        default=SAMPLE_SUITE,
        description="quality query suite (JSONL) for the first collection; 'none': no suite",
    )
    fetch_timeout_s: float = Field(default=30.0, gt=0.0, description="http(s) fetch timeout")
    fetch_retries: int = Field(default=3, ge=0, description="http(s) fetch retries")
    max_reject_rate: float = Field(
        default=0.01, ge=0.0, le=1.0, description="share of unparseable records allowed"
    )
    retention: int = Field(default=5, ge=0, description="snapshots kept in the store")
    batch_size: int = Field(default=64, ge=1, description="texts per encoder batch")
    tokenizer: str | None = Field(
        default=None,
        description="FTS5 tokenizer, e.g. 'unicode61' or 'trigram' (default: each kind's own)",
    )
    hnsw: HnswSettings = Field(default=HnswSettings(), description="hnsw index (JSON object)")
    fusion: FusionSettings = Field(
        default=FusionSettings(), description="hybrid fusion (JSON object)"
    )
    gates: GateSettings = Field(
        default_factory=GateSettings, description="gate thresholds (SNAPSEARCH_GATE_*)"
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The gate thresholds are read as SNAPSEARCH_GATE_<FIELD> only (by ``GateSettings``),
        not also as one JSON object named after the field."""
        env = _EnvWithout(settings_cls, "gates")
        return init_settings, env, dotenv_settings, file_secret_settings

    @field_validator("collections")
    @classmethod
    def _distinct_names(cls, v: list[Collection]) -> list[Collection]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError(f"collection names repeat: {', '.join(names)}")
        return v

    @field_validator("source")
    @classmethod
    def _one_collection(cls, v: str | None, info: ValidationInfo) -> str | None:
        collections = info.data.get("collections") or []
        if v is not None and len(collections) > 1:
            raise ValueError(
                f"it sets the source of the one configured collection, but there are "
                f"{len(collections)} ({', '.join(c.name for c in collections)}): "
                f"give each collection its source in {ENV_PREFIX}COLLECTIONS instead"
            )
        return v

    @field_validator("suite", mode="before")
    @classmethod
    def _no_suite(cls, v: object) -> object:
        return None if isinstance(v, str | Path) and str(v).strip().lower() in ("", "none") else v

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_words(cls, v: str | None) -> str | None:
        if v is not None and not _TOKENIZER.match(v):
            raise ValueError(
                "an FTS5 tokenize argument: words, digits, '_', '.' and single quotes "
                "(e.g. \"porter unicode61 remove_diacritics 2\" or \"trigram\")"
            )
        return v or None

    def build_collections(self) -> list[Collection]:
        """The collections to build, ``source`` applied."""
        if self.source is None:
            return list(self.collections)
        return [self.collections[0].model_copy(update={"source": self.source})]

    def build_fingerprint(self) -> dict[str, Any]:
        """The settings that change a snapshot's bytes (recorded in the manifest)."""
        return {
            "collections": [{"name": c.name, "kind": c.kind} for c in self.collections],
            "max_reject_rate": self.max_reject_rate,
            "tokenizer": self.tokenizer,
            "hnsw": self.hnsw.model_dump(),
            "fusion": self.fusion.model_dump(),
        }


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    CommonSettings, ServeSettings, PipelineSettings, GateSettings,
)
