"""The manifest schema: everything that changes a snapshot's bytes is recorded here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import layout
from .errors import ManifestError

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class FileEntry(_Model):
    sha256: str
    bytes: int


class SourceEntry(_Model):
    name: str
    uri: str
    sha256: str
    bytes: int
    records: int = 0


class Canary(_Model):
    text: str
    decimals: int
    vector: list[float]  # the canary embedding, rounded to ``decimals``
    digest: str  # sha256 of the rounded vector (for display; comparison uses a tolerance)


class ModelPin(_Model):
    """Pins the embedding model by fingerprint, not by name alone."""

    model_id: str
    revision: str | None = None
    weights_sha256: dict[str, str]  # file name -> sha256 of the weight/config files
    weights_digest: str  # sha256 over weights_sha256 (sorted)
    dim: int
    normalize: bool
    max_seq_length: int
    versions: dict[str, str]  # sentence_transformers, transformers, torch
    canary: Canary

    @property
    def fingerprint(self) -> str:
        """What must match for vectors to be comparable: weights, dim, normalisation, length.

        The canary is checked separately with a tolerance (BLAS builds differ in the last bits).
        """
        from .hashing import sha256_text

        return sha256_text(
            json.dumps(
                [self.model_id, self.weights_digest, self.dim, self.normalize, self.max_seq_length],
                separators=(",", ":"),
            )
        )


class HnswSettings(_Model):
    space: Literal["ip", "cosine", "l2"] = "ip"
    M: int = 16
    ef_construction: int = 200
    ef_search: int = 128
    seed: int = 100


class FusionSettings(_Model):
    """How hybrid search fuses its two retrievers (docs/search.md; chosen in docs/benchmarks.md).

    Default: convex over z-scores at the untuned midpoint alpha 0.5: tied best of the fusion
    grid on SciFact's train split (0.739; min-max 0.739, RRF 0.716-0.724), 0.740 on its test
    split, within 0.001 of min-max on the 25k parts suite.
    """

    method: Literal["convex", "rrf"] = "convex"
    alpha: float = 0.5  # convex: weight of the dense score (1 - alpha for lexical)
    rrf_k: int = 60
    candidates: int = 100  # per retriever, before fusion
    normalization: Literal["minmax", "zscore"] = "zscore"


class CollectionInfo(_Model):
    kind: str
    kind_version: int
    template: str
    lexical_fields: dict[str, float]  # FTS5 column -> bm25 weight
    filter_columns: dict[str, Literal["text", "integer", "real"]]
    summary_fields: list[str]
    records: int
    rejects: int
    tokenizer: str


class ExclusionInfo(_Model):
    """The build's exclusion rules and the records each kept out of the index, per collection."""

    rules: list[dict[str, Any]]
    excluded: dict[str, dict[str, int]]  # collection -> rule name -> records not indexed


class PriorsInfo(_Model):
    """Feedback priors baked into this snapshot (``priors.json``) and the log they came from."""

    log_sha256: str  # of the log's bytes that were read
    log_bytes: int
    events: int  # valid events read
    events_used: int  # votes (latest per session and record) naming a record of this snapshot
    records: dict[str, int]  # collection -> records with a prior
    collections: dict[str, float]  # collection -> its prior weight, in [-1, 1]
    max_boost: float  # the most a record's prior moves its score


# Fields added after schema 1 that a snapshot without them does not write at all (not even as
# null): a build that uses none of them writes the bytes it wrote before they existed.
OPTIONAL_FIELDS = ("exclusions", "priors", "collection_weights")


class Manifest(_Model):
    schema_version: int = Field(default=SCHEMA_VERSION)
    snapshot_id: str
    built_at: str  # ISO 8601 UTC, from the build context
    builder_version: str
    inputs_digest: str  # raw digests + settings + model fingerprint: equal => nothing to rebuild
    sources: list[SourceEntry]
    model: ModelPin
    hnsw: HnswSettings
    fusion: FusionSettings
    collections: dict[str, CollectionInfo]
    tables: dict[str, int]  # table -> row count
    files: dict[str, FileEntry]  # relative path -> checksum, size
    settings: dict[str, Any] = Field(default_factory=dict)
    exclusions: ExclusionInfo | None = None
    priors: PriorsInfo | None = None
    collection_weights: dict[str, float] | None = None  # default weights of a multi search

    def to_json(self) -> str:
        unset = {f for f in OPTIONAL_FIELDS if getattr(self, f) is None}
        data = self.model_dump(mode="json", exclude=unset)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_manifest(snapshot_dir: Path) -> Manifest:
    path = snapshot_dir / layout.MANIFEST
    if not path.is_file():
        raise ManifestError(
            f"{path} does not exist: {snapshot_dir} is not a snapshot directory",
            fix="point at a directory built by `snapsearch run`",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(
            f"{path} is not readable JSON: {exc}", fix="rebuild the snapshot"
        ) from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{path} has schema_version {version!r}; "
            f"this snapsearch reads version {SCHEMA_VERSION}",
            fix="rebuild the snapshot with this version, or install the snapsearch that built it",
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(
            f"{path} is not a valid manifest: field {where!r}: {first['msg']}",
            fix="rebuild the snapshot",
        ) from exc
