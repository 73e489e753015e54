"""Every file and directory name of the snapshot format and the store.

Nothing outside this package spells a file name: pipelines, serve and eval ask here.

Store root (``snapshots/`` by default)::

    <root>/
      <snapshot id>/            immutable snapshot directories (ids sort by build time)
        manifest.json           schema, model pin, settings, row counts, every file's sha256 + bytes
        manifest.sha256         the manifest's seal: ``<sha256 of manifest.json>  manifest.json``
                                (``sha256sum -c`` format); nothing in a snapshot is unsealed
        records.sqlite          lookup_<c> (filters), numeric_<c> (numeric attributes), fts_<c>
                                (FTS5), detail and rejects tables; sealed, opened immutable=1
        vectors_<c>.npy         float32 matrix, L2-normalised, row i = lookup_<c>.pos i
        ann_<c>.hnsw            hnswlib index over the same rows (label = pos)
        query-encoder.onnx      the pinned model exported to ONNX fp32 (pooling and normalisation
                                in the graph): serve encodes queries with it, without torch
        query-encoder.weights   its large tensors (ONNX external data, each at a 64 KiB-aligned
                                offset: onnxruntime maps them from the file instead of copying)
        query-tokenizer.json    the model's tokenizer file (padding is turned off when loaded)
        priors.json             feedback priors per collection and record (only when a build
                                read feedback events)
      current -> <snapshot id>  the published snapshot (symlink, flipped atomically)
      previous -> <snapshot id> the one before it
      publish-log.jsonl         append-only publish events
      .publish.lock             lock file held while publishing or rolling back (seconds)
      .run.lock                 lock file held by the one run in progress, fetch to publish
      _raw/                     the fetch stage's raw cache:
        objects/<sha256>        raw bytes, content-addressed, written once (read-only)
        fetch-manifest.jsonl    one JSON line per new raw version, oldest first
      _cache/                   caches shared across builds:
        embeddings.sqlite       embeddings by (model fingerprint, text sha256)
        onnx/<key>/             the query encoder exported once per model fingerprint
      _gates/<snapshot id>.json gate reports, beside the immutable snapshots they judge: sealed
                                (own sha256 inside) and bound to the manifest's sha256; written
                                atomically (``_gates/.tmp-*`` while writing)
      _feedback/feedback.jsonl  append-only feedback events (POST /v1/feedback), read by builds
      _dagster/                 the store's Dagster instance (DAGSTER_HOME): runs, events, checks
      .tmp-*                    in-progress builds and temp files (a failed build removes its own;
                                the next run removes every one left by a killed process)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

MANIFEST = "manifest.json"
SEAL = "manifest.sha256"
SQLITE = "records.sqlite"
GATES_DIR = "_gates"
GATE_REPORT_SUFFIX = ".json"
CURRENT = "current"
PREVIOUS = "previous"
PUBLISH_LOG = "publish-log.jsonl"
LOCK = ".publish.lock"
RUN_LOCK = ".run.lock"
RAW_DIR = "_raw"
RAW_OBJECTS_DIR = "objects"
FETCH_MANIFEST = "fetch-manifest.jsonl"
CACHE_DIR = "_cache"
EMBED_CACHE = "embeddings.sqlite"
ONNX_CACHE_DIR = "onnx"
QUERY_ENCODER = "query-encoder.onnx"
QUERY_ENCODER_DATA = "query-encoder.weights"
QUERY_TOKENIZER = "query-tokenizer.json"
FEEDBACK_DIR = "_feedback"
FEEDBACK_LOG = "feedback.jsonl"
PRIORS = "priors.json"
DAGSTER_DIR = "_dagster"
TMP_PREFIX = ".tmp-"
TMP_SUFFIX = ".tmp"  # a file being written next to its final name (e.g. gates.json.tmp)

# Table names inside records.sqlite
DETAIL_TABLE = "detail"
REJECTS_TABLE = "rejects"

SNAPSHOT_ID_RE = re.compile(r"^(?P<at>\d{8}T\d{6}\d{6}Z)-(?P<digest>[0-9a-f]{8})$")
_ID_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"  # UTC, microseconds: ids sort by build time
ID_DIGEST_CHARS = 8  # an id ends with this many hex chars of the snapshot's inputs digest
_COLLECTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def check_collection_name(name: str) -> str:
    if not _COLLECTION_RE.match(name):
        raise ValueError(
            f"collection name {name!r} is not valid: use 1-40 lowercase letters, digits or '_', "
            "starting with a letter"
        )
    return name


def lookup_table(collection: str) -> str:
    return f"lookup_{check_collection_name(collection)}"


def fts_table(collection: str) -> str:
    return f"fts_{check_collection_name(collection)}"


def numeric_table(collection: str) -> str:
    return f"numeric_{check_collection_name(collection)}"


def vectors_file(collection: str) -> str:
    return f"vectors_{check_collection_name(collection)}.npy"


def ann_file(collection: str) -> str:
    return f"ann_{check_collection_name(collection)}.hnsw"


class SnapshotId(NamedTuple):
    """A snapshot id taken apart; tuples order by build time, as the ids themselves do."""

    built_at: datetime  # UTC
    digest: str  # the first ID_DIGEST_CHARS hex chars of the inputs digest

    def matches(self, inputs_digest: str) -> bool:
        """Whether this id was made for a snapshot of ``inputs_digest``."""
        return inputs_digest.startswith(self.digest)


def new_snapshot_id(now: datetime, digest: str) -> str:
    """``<UTC build time to the microsecond>Z-<first 8 hex chars of the inputs digest>``."""
    return f"{now.astimezone(UTC).strftime(_ID_TIME_FORMAT)}-{digest[:ID_DIGEST_CHARS]}"


def parse_snapshot_id(name: str) -> SnapshotId:
    """The build time and digest prefix of a snapshot id; ValueError when ``name`` is not one."""
    match = SNAPSHOT_ID_RE.match(name)
    if match is not None:
        try:
            built_at = datetime.strptime(match["at"], _ID_TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:  # shaped like an id, but not a real time (e.g. month 13)
            pass
        else:
            return SnapshotId(built_at, match["digest"])
    raise ValueError(
        f"{name!r} is not a snapshot id (expected YYYYMMDDTHHMMSSffffffZ-<8 hex digits>, "
        "e.g. 20240501T120000000000Z-0123abcd)"
    )


def is_snapshot_id(name: str) -> bool:
    try:
        parse_snapshot_id(name)
    except ValueError:
        return False
    return True


def list_snapshot_dirs(root: Path) -> list[Path]:
    """Snapshot directories under ``root``, oldest first (by the build time in their ids)."""
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and is_snapshot_id(p.name)),
        key=lambda p: parse_snapshot_id(p.name),
    )


def raw_dir(root: Path) -> Path:
    return root / RAW_DIR


def raw_objects_dir(root: Path) -> Path:
    """The fetch stage's content-addressed objects (one file per sha256)."""
    return raw_dir(root) / RAW_OBJECTS_DIR


def raw_object_path(root: Path, sha256: str) -> Path:
    return raw_objects_dir(root) / sha256


def fetch_manifest_path(root: Path) -> Path:
    """The fetch stage's append-only manifest of raw versions."""
    return raw_dir(root) / FETCH_MANIFEST


def cache_dir(root: Path) -> Path:
    return root / CACHE_DIR


def gates_dir(root: Path) -> Path:
    """Where the gate reports of the store's snapshots live (beside the snapshots)."""
    return root / GATES_DIR


def gate_report_path(root: Path, snapshot_id: str) -> Path:
    """The gate report of snapshot ``snapshot_id`` in the store ``root``."""
    return gates_dir(root) / f"{snapshot_id}{GATE_REPORT_SUFFIX}"


def onnx_cache_dir(root: Path, key: str) -> Path:
    """Where the query encoder exported for ``key`` (model fingerprint + export format) lives."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", key):
        raise ValueError(f"{key!r} is not an export cache key (hex digits)")
    return cache_dir(root) / ONNX_CACHE_DIR / key


def feedback_log_path(root: Path) -> Path:
    """The append-only feedback log (the server appends, builds read)."""
    return root / FEEDBACK_DIR / FEEDBACK_LOG


def dagster_dir(root: Path) -> Path:
    """The store's Dagster instance home (the default of SNAPSEARCH_DAGSTER_HOME)."""
    return root / DAGSTER_DIR


def is_temp_name(name: str) -> bool:
    """A name only an unfinished write makes: ``.tmp-*`` or ``*.tmp``."""
    return name.startswith(TMP_PREFIX) or name.endswith(TMP_SUFFIX)
