"""Opens a snapshot read-only: SQLite ``mode=ro&immutable=1``, vectors, hnsw with ef set once.

Serve and eval read snapshots only through this module. A ``Snapshot`` is a context manager
(``with open_snapshot(path) as snap:``); closing it twice is harmless. One dropped while still
open says so with a ``ResourceWarning``, as an unclosed file does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from . import layout
from .ann import ExactIndex, HnswIndex
from .errors import ManifestError
from .gates import GateReport, read_gate_report
from .manifest import CollectionInfo, Manifest
from .verify import GateCheck, verify_snapshot


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


# Every open snapshot, weakly held (no effect on their lifetime): the tests' autouse fixture
# reads it to close what a test left open (tests/conftest.py).
_OPEN: weakref.WeakSet[Snapshot] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()


def open_snapshots() -> list[Snapshot]:
    """The snapshots opened and not closed yet (that are still referenced somewhere)."""
    with _OPEN_LOCK:
        return [s for s in _OPEN if not s.closed]


@dataclass(eq=False)
class Snapshot:
    path: Path
    manifest: Manifest
    conn: sqlite3.Connection
    collections: dict[str, Collection]
    # every file's sha256 was checked against the manifest when it was opened (the query
    # encoder's loader then need not hash its ~90 MB again)
    checksummed: bool = False
    closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        with _OPEN_LOCK:
            _OPEN.add(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            warnings.warn(
                f"unclosed snapshot {self.path}", ResourceWarning, stacklevel=2, source=self
            )
            self.close()

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
        """Close the database; the second and later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        self.conn.close()


def open_snapshot(
    snapshot_dir: Path, *, checksums: bool = False, gates: GateCheck = "if_present"
) -> Snapshot:
    """Open a snapshot; the manifest's seal and the sizes are always verified, sha256 when
    ``checksums``, the gate report as ``gates`` asks (see ``verify``)."""
    snapshot_dir = snapshot_dir.resolve()
    manifest = verify_snapshot(snapshot_dir, checksums=checksums, gates=gates)
    conn = connect_readonly(snapshot_dir / layout.SQLITE)
    try:
        collections = {
            name: _open_collection(snapshot_dir, manifest, name, info, conn)
            for name, info in manifest.collections.items()
        }
    except BaseException:
        conn.close()
        raise
    return Snapshot(snapshot_dir, manifest, conn, collections, checksummed=checksums)


def _open_collection(
    snapshot_dir: Path, manifest: Manifest, name: str, info: CollectionInfo,
    conn: sqlite3.Connection,
) -> Collection:
    vectors = np.load(snapshot_dir / layout.vectors_file(name), mmap_mode="r", allow_pickle=False)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    exact = ExactIndex(vectors)
    fts_columns = tuple(
        r[1] for r in conn.execute(f"PRAGMA table_info({layout.fts_table(name)})")
    )
    if sorted(fts_columns) != sorted(info.lexical_fields):
        raise ManifestError(
            f"{snapshot_dir}: collection {name!r} has lexical columns {list(fts_columns)} "
            f"but the manifest weighs {sorted(info.lexical_fields)}",
            fix="rebuild the snapshot",
        )
    ann = HnswIndex.load(
        snapshot_dir / layout.ann_file(name), manifest.model.dim, len(vectors), manifest.hnsw,
        exact,
    )
    return Collection(name, info, conn, vectors, ann, exact, fts_columns)
