"""Every file and directory name of the snapshot format and the store.

Nothing outside this package spells a file name: pipelines, serve and eval ask here.

Store root (``snapshots/`` by default)::

    <root>/
      <snapshot id>/            immutable snapshot directories (ids sort by build time)
        manifest.json           schema, model pin, settings, row counts, every file's sha256 + bytes
        records.sqlite          lookup_<c> (filters), numeric_<c> (numeric attributes), fts_<c>
                                (FTS5), detail and rejects tables; sealed, opened immutable=1
        vectors_<c>.npy         float32 matrix, L2-normalised, row i = lookup_<c>.pos i
        ann_<c>.hnsw            hnswlib index over the same rows (label = pos)
        gates.json              gate report written by validate (not covered by the manifest)
      current -> <snapshot id>  the published snapshot (symlink, flipped atomically)
      previous -> <snapshot id> the one before it
      publish-log.jsonl         append-only publish events
      .publish.lock             lock file held while publishing
      _raw/                     content-addressed raw cache + fetch manifest (fetch stage)
      _cache/                   embedding cache shared across builds
      .tmp-*                    in-progress builds (removed when a build fails or by retention)
"""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = "manifest.json"
SQLITE = "records.sqlite"
GATES = "gates.json"
CURRENT = "current"
PREVIOUS = "previous"
PUBLISH_LOG = "publish-log.jsonl"
LOCK = ".publish.lock"
RAW_DIR = "_raw"
FETCH_MANIFEST = "fetch-manifest.jsonl"
CACHE_DIR = "_cache"
EMBED_CACHE = "embeddings.sqlite"
TMP_PREFIX = ".tmp-"

# Table names inside records.sqlite
DETAIL_TABLE = "detail"
REJECTS_TABLE = "rejects"

SNAPSHOT_ID_RE = re.compile(r"^\d{8}T\d{6}\d{6}Z-[0-9a-f]{8}$")
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


def is_snapshot_id(name: str) -> bool:
    return bool(SNAPSHOT_ID_RE.match(name))


def list_snapshot_dirs(root: Path) -> list[Path]:
    """Snapshot directories under ``root``, oldest first (ids sort by build time)."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and is_snapshot_id(p.name)
    )


def raw_dir(root: Path) -> Path:
    return root / RAW_DIR


def cache_dir(root: Path) -> Path:
    return root / CACHE_DIR
