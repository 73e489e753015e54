"""Opens a snapshot read-only: SQLite ``mode=ro&immutable=1``, vectors, hnsw with ef set once.

Serve and eval read snapshots only through this module.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import layout
from .ann import ExactIndex, HnswIndex
from .errors import ManifestError
from .gates import GateReport, read_gate_report
from .manifest import CollectionInfo, Manifest
from .verify import verify_snapshot


def connect_readonly(path: Path) -> sqlite3.Connection:
    uri = f"file:{path.resolve()}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass
class Collection:
    name: str
    info: CollectionInfo
    conn: sqlite3.Connection
    vectors: np.ndarray
    ann: HnswIndex
    exact: ExactIndex
    fts_columns: tuple[str, ...] = ()  # the FTS5 table's columns, in its own order

    @property
    def bm25_weights(self) -> str:
        """bm25() weights in the FTS5 table's column order (the manifest's keys are sorted)."""
        return ", ".join(str(self.info.lexical_fields[c]) for c in self.fts_columns)

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def lookup(self) -> str:
        return layout.lookup_table(self.name)

    @property
    def fts(self) -> str:
        return layout.fts_table(self.name)

    @property
    def numeric(self) -> str:
        return layout.numeric_table(self.name)

    def rows(self, positions: Sequence[int]) -> dict[int, sqlite3.Row]:
        """Lookup rows by position (vector row)."""
        out: dict[int, sqlite3.Row] = {}
        pos = list(dict.fromkeys(int(p) for p in positions))
        for i in range(0, len(pos), 500):
            chunk = pos[i : i + 500]
            q = f"SELECT * FROM {self.lookup} WHERE pos IN ({','.join('?' * len(chunk))})"
            for r in self.conn.execute(q, chunk):
                out[int(r["pos"])] = r
        return out

    def pos_of(self, record_id: str) -> int | None:
        r = self.conn.execute(
            f"SELECT pos FROM {self.lookup} WHERE id = ?", (record_id,)
        ).fetchone()
        return None if r is None else int(r[0])

    def detail(self, record_id: str) -> dict[str, Any] | None:
        r = self.conn.execute(
            f"SELECT record FROM {layout.DETAIL_TABLE} WHERE collection = ? AND id = ?",
            (self.name, record_id),
        ).fetchone()
        return None if r is None else dict(json.loads(r[0]))

    def iter_details(self) -> Iterator[dict[str, Any]]:
        """Every full record of the collection (for evaluation: constraint counting)."""
        q = f"SELECT record FROM {layout.DETAIL_TABLE} WHERE collection = ? ORDER BY rowid"
        for (rec,) in self.conn.execute(q, (self.name,)):
            yield dict(json.loads(rec))


@dataclass
class Snapshot:
    path: Path
    manifest: Manifest
    conn: sqlite3.Connection
    collections: dict[str, Collection]

    @property
    def snapshot_id(self) -> str:
        return self.manifest.snapshot_id

    def gate_report(self) -> GateReport | None:
        return read_gate_report(self.path)

    def collection(self, name: str | None) -> Collection:
        if name is None:
            return next(iter(self.collections.values()))
        return self.collections[name]

    def close(self) -> None:
        self.conn.close()


def open_snapshot(snapshot_dir: Path, *, checksums: bool = False) -> Snapshot:
    """Open a snapshot; sizes are always verified, sha256 when ``checksums``."""
    snapshot_dir = snapshot_dir.resolve()
    manifest = verify_snapshot(snapshot_dir, checksums=checksums)
    conn = connect_readonly(snapshot_dir / layout.SQLITE)
    collections: dict[str, Collection] = {}
    for name, info in manifest.collections.items():
        vectors = np.load(
            snapshot_dir / layout.vectors_file(name), mmap_mode="r", allow_pickle=False
        )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        exact = ExactIndex(vectors)
        fts_columns = tuple(
            r[1] for r in conn.execute(f"PRAGMA table_info({layout.fts_table(name)})")
        )
        if sorted(fts_columns) != sorted(info.lexical_fields):
            conn.close()
            raise ManifestError(
                f"{snapshot_dir}: collection {name!r} has lexical columns {list(fts_columns)} "
                f"but the manifest weighs {sorted(info.lexical_fields)}",
                fix="rebuild the snapshot",
            )
        ann = HnswIndex.load(
            snapshot_dir / layout.ann_file(name), manifest.model.dim, len(vectors), manifest.hnsw,
            exact,
        )
        collections[name] = Collection(name, info, conn, vectors, ann, exact, fts_columns)
    return Snapshot(snapshot_dir, manifest, conn, collections)

