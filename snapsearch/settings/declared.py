"""The declarations: every ``SNAPSEARCH_*`` setting once, with its type, default and words.

A field ``foo`` of ``CommonSettings`` (and so of ``ServeSettings`` and ``PipelineSettings``,
which extend it) is read from ``SNAPSEARCH_<FOO>``; a field of ``GateSettings`` from
``SNAPSEARCH_GATE_<FOO>``; list and object fields (``collections``, ``hnsw``, ``fusion``) as JSON.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
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
from snapsearch.format.model import EncoderBackend
from snapsearch.kinds import available_kinds
from snapsearch.search.exclusion import Rule, load_rules_file

ENV_PREFIX = "SNAPSEARCH_"
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SOURCE = REPO_ROOT / "data" / "sample" / "parts-3k.jsonl.gz"
SAMPLE_SUITE = REPO_ROOT / "eval" / "suites" / "parts-sample.jsonl"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
_TOKENIZER = re.compile(r"^[A-Za-z0-9_.' ]{1,200}$")


class CommonSettings(BaseSettings):
    """What every command reads: where the store is. (Queries are encoded by the encoder each
    snapshot carries, named by its manifest: no setting chooses it.)"""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    root: Path = Field(default=REPO_ROOT / "snapshots", description="snapshot store root")
    dagster_home: Path | None = Field(
        default=None,
        description="the store's Dagster instance (runs, materializations, checks), the "
        "DAGSTER_HOME of `dagster dev` (default: _dagster in the store root)",
    )

    def dagster_home_dir(self) -> Path:
        """Where the store's Dagster instance lives."""
        return self.dagster_home or layout.dagster_dir(self.root)


class ServeSettings(CommonSettings):
    """Everything the server reads."""

    def encoder_threads(self) -> int:
        """The threads one query's encode uses (``query_threads``, 0 resolved: a second thread
        takes a catalogue query from ~4.4 to ~2.7 ms when a core is free; with a process per
        core each keeps to its own)."""
        if self.query_threads:
            return self.query_threads
        return 2 if self.workers == 1 and (os.cpu_count() or 1) >= 2 else 1

    host: str = Field(default="127.0.0.1", description="interface to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port")
    verify_checksums: bool = Field(
        default=True, description="verify every file's sha256 before serving a snapshot"
    )
    reload_poll_s: float = Field(
        default=2.0, ge=0.0, description="how often to check whether `current` moved; 0 disables"
    )
    close_grace_s: float = Field(
        default=0.0, ge=0.0,
        description="seconds a replaced snapshot stays open at least; it is closed only once no "
        "request uses it, whatever this says",
    )
    search_threads: int = Field(
        default=4, ge=1, le=64,
        description="searches run at once in worker threads (more wait); keep near the core count",
    )
    query_cache: int = Field(
        default=2048, ge=0, description="query embeddings kept in memory (LRU); 0 disables"
    )
    workers: int = Field(
        default=1, ge=1, le=64,
        description="server processes, each holding the snapshot read-only (one per core)",
    )
    query_threads: int = Field(
        default=0, ge=0, le=64,
        description="onnxruntime threads that encode one query; 0: two when one server process "
        "has two or more cores, one when there are several processes (one per core)",
    )
    shutdown_drain_s: float = Field(
        default=1.0, ge=0.0,
        description="on SIGTERM: seconds /readyz answers 503 while requests are still served, "
        "so load balancers stop sending, before the server stops accepting",
    )
    shutdown_grace_s: float = Field(
        default=10.0, ge=0.0,
        description="then: seconds requests in flight may take to finish; the process exits 0 "
        "by then",
    )
    log_level: LogLevel = Field(default="info", description="log level of the server's logs")
    show_paths: bool = Field(
        default=False,
        description="GET /v1/snapshot shows local file paths (sources, store); off: file names "
        "only",
    )
    api_token: SecretStr | None = Field(
        default=None, min_length=16,
        description="bearer token (16+ characters) every request must carry as "
        "'Authorization: Bearer ...', except on the open paths; unset: none needed",
    )
    open_paths: list[str] = Field(
        default=["/livez", "/readyz", "/metrics"],
        description="paths that need no token and are not rate limited "
        "(a trailing * matches a prefix)",
    )
    rate_limit_per_s: float | None = Field(
        default=None, ge=0.0,
        description="requests per second per client address (token bucket; 429 with "
        "Retry-After past it); 0: off; unset: off on a loopback host without a token, else 20",
    )
    rate_limit_burst: int = Field(
        default=40, ge=1, description="requests a client may send at once before the rate applies"
    )
    exclude_policy: Path | None = Field(
        default=None,
        description="exclusion rules every request gets: a JSON file of rules [{name, field, "
        "equals | in | matches | below}]; hits they remove are counted in /metrics by rule",
    )
    feedback_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024,
        description="size bound of the feedback log (<root>/_feedback/feedback.jsonl); "
        "POST /v1/feedback answers 507 past it",
    )

    @field_validator("exclude_policy")
    @classmethod
    def _policy_rules(cls, v: Path | None) -> Path | None:
        if v is not None:
            load_rules_file(v, "policy")
        return v

    def policy_rules(self) -> list[Rule]:
        """The server's policy: rules every search, lookup and context request gets."""
        return load_rules_file(self.exclude_policy, "policy") if self.exclude_policy else []


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
    latency_p50_ms: float = Field(
        default=50.0,
        description="search p50 budget (ms of service time), judged when there is no published "
        "snapshot to compare with",
    )
    latency_p95_ms: float = Field(
        default=150.0, description="search p95 budget (ms of service time), as latency_p50_ms"
    )
    latency_queries: int = Field(default=60, ge=1, description="queries of the latency gate")
    latency_warmup: int = Field(
        default=20, ge=0, description="queries run (not measured) before the latency gate measures"
    )
    latency_ratio_max: float = Field(
        default=1.5, gt=1.0,
        description="candidate/published p50 and p95, measured interleaved in the same run, "
        "maximum (judged instead of the budgets when a published snapshot can be measured)",
    )
    encoder_cosine_min: float = Field(
        default=0.9999, ge=0.0, le=1.0,
        description="query encoder gate: minimum cosine between the snapshot's query encoder and "
        "the build model over a fixed sample of queries",
    )
    encoder_ndcg_tolerance: float = Field(
        default=0.002, ge=0.0,
        description="query encoder gate: the suite's nDCG@10 may differ by this much between "
        "the two encoders",
    )


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

    encoder: EncoderBackend = Field(
        default="minilm",
        description="embedding model a build encodes with: 'minilm' (the pinned model) or "
        "'hashing' (tests only)",
    )
    torch_threads: int = Field(
        default=1, ge=1, le=256,
        description="torch threads for one-text encodes in the pipeline (1 stays fast when "
        "cores are busy)",
    )
    encode_threads: int = Field(
        default=0, ge=0, le=256, description="torch threads while a build encodes; 0: every core"
    )
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
    max_record_bytes: int = Field(
        default=1_000_000, ge=1024,
        description="a raw record (one JSON line) longer than this is rejected",
    )
    max_field_chars: int = Field(
        default=100_000, ge=16,
        description="a record holding a string (field or key) longer than this is rejected",
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
    exclusions: Path | None = Field(
        default=None,
        description="build exclusion rules: a JSON file of rules [{name, field, equals | in | "
        "matches | below}]; excluded records are not indexed and are counted by rule",
    )
    collection_weights: dict[str, float] = Field(
        default_factory=dict,
        description="default weight of each collection in a multi-collection search "
        "(JSON object {collection: 0 to 10}; recorded in the manifest)",
    )
    prior_boost: float = Field(
        default=0.05, ge=0.0, le=0.2,
        description="the most a record's feedback prior moves its hybrid score",
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

    @field_validator("exclusions")
    @classmethod
    def _exclusion_rules(cls, v: Path | None) -> Path | None:
        if v is not None:
            load_rules_file(v, "build")
        return v

    @field_validator("collection_weights")
    @classmethod
    def _weights(cls, v: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        names = [c.name for c in info.data.get("collections") or []]
        for name, w in v.items():
            if names and name not in names:
                raise ValueError(f"{name!r} is not a configured collection ({', '.join(names)})")
            if not 0.0 <= w <= 10.0:
                raise ValueError(f"the weight of {name!r} is {w}: a weight is 0 to 10")
        return v

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

    def exclusion_rules(self) -> list[Rule]:
        """The build's exclusion rules ([] without a rules file)."""
        return load_rules_file(self.exclusions, "build") if self.exclusions else []

    def build_fingerprint(self) -> dict[str, Any]:
        """The settings that change a snapshot's bytes (recorded in the manifest). Settings added
        later appear only when set, so a build that leaves them unset writes what it wrote
        before they existed."""
        out: dict[str, Any] = {
            "collections": [{"name": c.name, "kind": c.kind} for c in self.collections],
            "max_reject_rate": self.max_reject_rate,
            "max_record_bytes": self.max_record_bytes,
            "max_field_chars": self.max_field_chars,
            "tokenizer": self.tokenizer,
            "hnsw": self.hnsw.model_dump(),
            "fusion": self.fusion.model_dump(),
        }
        rules = self.exclusion_rules()
        if rules:
            out["exclusions"] = [r.describe() for r in rules]
        if self.collection_weights:
            out["collection_weights"] = dict(sorted(self.collection_weights.items()))
        return out


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    CommonSettings, ServeSettings, PipelineSettings, GateSettings,
)
