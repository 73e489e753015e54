"""The manifest schema: everything that changes a snapshot's bytes is recorded here.

The manifest is itself sealed: ``manifest.sha256`` beside it holds its sha256 (``sha256sum -c``
format), and it names its snapshot id, which must be the directory's name. ``read_manifest``
checks both before it parses a byte, so every field (fusion, hnsw, collections, the model pin,
whatever a later version adds) is covered, not only the files the manifest lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import layout
from .errors import IntegrityError, ManifestError
from .hashing import fsync_file, sha256_bytes
from .redact import redact_url

# 2: manifest.sha256 seals the manifest; gate reports live in <root>/_gates/, not in the snapshot
# 3: the model pin also names the query encoder the snapshot carries (``query_encoder``, ``onnx``).
# Older snapshots are refused with the fix "rebuild" (read_manifest).
SCHEMA_VERSION = 3
_SEAL_LINE = re.compile(r"\A(?P<digest>[0-9a-f]{64})  (?P<name>[^\n]+)\n\Z")

QueryEncoderKind = Literal["onnx", "hashing"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class FileEntry(_Model):
    sha256: str
    bytes: int


class SourceEntry(_Model):
    name: str
    uri: str  # credentials and secret query parameters redacted (never recorded)
    sha256: str
    bytes: int
    records: int = 0

    @field_validator("uri")
    @classmethod
    def _redacted(cls, v: str) -> str:
        return redact_url(v)


class Canary(_Model):
    text: str
    decimals: int
    vector: list[float]  # the canary embedding, rounded to ``decimals``
    digest: str  # sha256 of the rounded vector (for display; comparison uses a tolerance)


class OnnxPin(_Model):
    """The query encoder a snapshot carries: the pinned model exported to ONNX at build time
    (fp32; token embeddings, mean pooling and L2 normalisation inside the graph), its large
    tensors as the graph's external data, and the model's own tokenizer file, all files of the
    snapshot (layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA, layout.QUERY_TOKENIZER)."""

    file: str
    sha256: str
    opset: int
    precision: Literal["fp32"] = "fp32"
    inputs: list[str]  # the graph's inputs, e.g. input_ids, attention_mask, token_type_ids
    output: str  # the graph's output: one L2-normalised row per text
    tokenizer_file: str
    tokenizer_sha256: str
    # the graph's external data (its large tensors, page-aligned: onnxruntime maps them from the
    # file, so the word-embedding table is read only where queries touch it); None: all inline
    data_file: str | None = None
    data_sha256: str | None = None
    exporter: dict[str, str] = Field(default_factory=dict)  # torch, onnx, onnxscript versions


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
    # what encodes queries at serve time: "onnx" (the snapshot's ``onnx`` files, no torch) or
    # "hashing" (the test-only HashingEncoder, built from ``dim``)
    query_encoder: QueryEncoderKind
    onnx: OnnxPin | None = None

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


def seal_line(manifest_bytes: bytes) -> str:
    """The seal of a manifest's bytes: one ``sha256sum`` line."""
    return f"{sha256_bytes(manifest_bytes)}  {layout.MANIFEST}\n"


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    """Write ``manifest.json`` and its seal into ``directory`` (both fsynced)."""
    data = manifest.to_json().encode("utf-8")
    path = directory / layout.MANIFEST
    path.write_bytes(data)
    fsync_file(path)
    seal = directory / layout.SEAL
    seal.write_text(seal_line(data), encoding="ascii")
    fsync_file(seal)
    return path


def manifest_id_mismatch(snapshot_dir: Path, snapshot_id: str) -> str | None:
    """Why ``snapshot_id`` (the manifest's) does not belong in ``snapshot_dir``, or None.

    A directory named like a snapshot id (or a build's ``.tmp-<id>``) must hold that id's
    manifest: a manifest copied into another snapshot is refused. A copy under another kind of
    name (for inspection) is not checked."""
    name = snapshot_dir.name.removeprefix(layout.TMP_PREFIX)
    if layout.is_snapshot_id(name) and name != snapshot_id:
        return f"its manifest is for snapshot {snapshot_id!r}, not {name!r}"
    return None


def seal_problem(manifest_bytes: bytes, seal: bytes | None) -> str | None:
    """What is wrong with a manifest's bytes against its seal's bytes (None: sealed), naming
    the file at fault."""
    if seal is None:
        return f"{layout.SEAL}: missing (the seal of {layout.MANIFEST})"
    try:
        m = _SEAL_LINE.match(seal.decode("ascii"))
    except UnicodeDecodeError:
        m = None
    if m is None or m["name"] != layout.MANIFEST:
        return f"{layout.SEAL}: not a seal (expected one line '<sha256>  {layout.MANIFEST}')"
    if m["digest"] != sha256_bytes(manifest_bytes):
        return f"{layout.MANIFEST}: sha256 differs from its seal ({layout.SEAL})"
    return None


def read_sealed_bytes(snapshot_dir: Path) -> bytes:
    """The manifest's bytes, once its seal is checked; ManifestError or IntegrityError naming
    the file otherwise."""
    path = snapshot_dir / layout.MANIFEST
    if not path.is_file():
        raise ManifestError(
            f"{path} does not exist: {snapshot_dir} is not a snapshot directory",
            fix="point at a directory built by `snapsearch run`",
        )
    seal_path = snapshot_dir / layout.SEAL
    try:
        data = path.read_bytes()
        seal = seal_path.read_bytes() if seal_path.is_file() else None
    except OSError as exc:
        raise ManifestError(f"{path} is not readable: {exc}", fix="rebuild the snapshot") from exc
    problem = seal_problem(data, seal)
    if problem is not None:
        raise IntegrityError(
            f"snapshot {snapshot_dir} failed verification: {problem}",
            fix="rebuild it with `snapsearch run --force` (snapshots are immutable: never edit "
                "one)",
        )
    return data


def read_manifest(snapshot_dir: Path) -> Manifest:
    """The snapshot's manifest, its seal and snapshot id checked first."""
    data_bytes = read_sealed_bytes(snapshot_dir)
    path = snapshot_dir / layout.MANIFEST
    try:
        data = json.loads(data_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(
            f"{path} is not readable JSON: {exc}", fix="rebuild the snapshot"
        ) from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{path} has schema_version {version!r}; "
            f"this snapsearch reads version {SCHEMA_VERSION}"
            + (" (older snapshots carry no seal or query encoder)"
               if isinstance(version, int) and version < SCHEMA_VERSION else ""),
            fix="rebuild the snapshot with this version (`snapsearch run --force`), "
                "or install the snapsearch that built it",
        )
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(
            f"{path} is not a valid manifest: field {where!r}: {first['msg']}",
            fix="rebuild the snapshot",
        ) from exc
    wrong = manifest_id_mismatch(snapshot_dir, manifest.snapshot_id)
    if wrong:
        raise IntegrityError(
            f"snapshot {snapshot_dir} failed verification: {layout.MANIFEST}: {wrong}",
            fix="rebuild it with `snapsearch run --force` (snapshots are immutable: never edit "
                "or rename one)",
        )
    return manifest
