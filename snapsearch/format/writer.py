"""Writes a snapshot directory: tables, vectors, ANN index, manifest — atomically.

A build happens in ``<root>/.tmp-<id>/``; ``finish`` seals SQLite, checksums every file, writes
the manifest and its seal (``manifest.sha256``), fsyncs and renames the directory into place:
from then on nothing writes into it (the gate report lives in ``<root>/_gates/``). ``abort``
(or an exception inside ``with SnapshotWriter(...)``) removes the temp directory: a failed build
leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from . import layout
from .ann import HnswIndex
from .errors import SnapshotError
from .hashing import fsync_dir, fsync_file, sha256_file
from .manifest import CollectionInfo, FileEntry, HnswSettings, Manifest, write_manifest

_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL"}


@dataclass
class Row:
    """One record as the format stores it (produced by a record kind)."""

    id: str
    text: str  # the embedded text
    lexical: dict[str, str]  # FTS column -> text
    filters: dict[str, Any]  # filter column -> value
    summary: dict[str, Any]  # what a search result shows
    detail: dict[str, Any]  # the full normalised record
    # (attribute, key, unit, value)
    numeric: list[tuple[str, str, str, float]] = field(default_factory=list)


@dataclass
class Reject:
    line: int
    id: str | None
    reason: str


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class SnapshotWriter:
    def __init__(self, root: Path, snapshot_id: str) -> None:
        if not layout.is_snapshot_id(snapshot_id):
            raise SnapshotError(f"{snapshot_id!r} is not a snapshot id")
        self.root = root
        self.snapshot_id = snapshot_id
        self.final_path = root / snapshot_id
        if self.final_path.exists():
            raise SnapshotError(f"{self.final_path} already exists; snapshots are immutable")
        self.path = root / f"{layout.TMP_PREFIX}{snapshot_id}"
        root.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()
        self._db = sqlite3.connect(self.path / layout.SQLITE)
        self._db.executescript(
            f"""
            PRAGMA journal_mode=OFF;
            PRAGMA synchronous=OFF;
            PRAGMA page_size=4096;
            CREATE TABLE {layout.DETAIL_TABLE} (
                collection TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
                UNIQUE (collection, id));
            CREATE TABLE {layout.REJECTS_TABLE} (
                collection TEXT NOT NULL, line INTEGER NOT NULL, id TEXT, reason TEXT NOT NULL);
            """
        )
        self._tables: dict[str, int] = {}
        self._collections: dict[str, CollectionInfo] = {}
        self._done = False

    # -- context manager: abort on error -------------------------------------------------
    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is not None or not self._done:
            self.abort()

    def abort(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass
        shutil.rmtree(self.path, ignore_errors=True)

    # -- content ---------------------------------------------------------------------------
    def write_collection(
        self,
        name: str,
        info: CollectionInfo,
        rows: Sequence[Row],
        vectors: np.ndarray,
        hnsw: HnswSettings,
        rejects: Iterable[Reject] = (),
    ) -> None:
        lookup, fts, numeric = (
            layout.lookup_table(name), layout.fts_table(name), layout.numeric_table(name)
        )
        if len(rows) != vectors.shape[0]:
            raise SnapshotError(
                f"collection {name}: {len(rows)} rows but {vectors.shape[0]} vectors"
            )
        cols = list(info.filter_columns)
        col_defs = "".join(f', "{c}" {_SQL_TYPES[t]}' for c, t in info.filter_columns.items())
        fts_cols = ", ".join(f'"{c}"' for c in info.lexical_fields)
        db = self._db
        db.executescript(
            f"""
            CREATE TABLE {lookup} (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE{col_defs},
                                   summary TEXT NOT NULL);
            CREATE VIRTUAL TABLE {fts} USING fts5({fts_cols}, content='', """
            f"""tokenize="{info.tokenizer}");
            CREATE TABLE {numeric} (pos INTEGER NOT NULL, attribute TEXT NOT NULL,
                                    key TEXT NOT NULL, unit TEXT NOT NULL, value REAL NOT NULL);
            """
        )
        placeholders = ", ".join("?" for _ in range(len(cols) + 3))
        quoted = "".join(f', "{c}"' for c in cols)
        db.executemany(
            f"INSERT INTO {lookup} (pos, id{quoted}, summary) VALUES ({placeholders})",
            (
                (pos, r.id, *(r.filters.get(c) for c in cols), _dumps(r.summary))
                for pos, r in enumerate(rows)
            ),
        )
        lex_cols = list(info.lexical_fields)
        db.executemany(
            f"INSERT INTO {fts} (rowid, {fts_cols}) VALUES (?{', ?' * len(lex_cols)})",
            ((pos, *(r.lexical.get(c, "") for c in lex_cols)) for pos, r in enumerate(rows)),
        )
        db.executemany(
            f"INSERT INTO {layout.DETAIL_TABLE} VALUES (?, ?, ?)",
            ((name, r.id, _dumps(r.detail)) for r in rows),
        )
        db.executemany(
            f"INSERT INTO {numeric} VALUES (?, ?, ?, ?, ?)",
            ((pos, a, k, u, v) for pos, r in enumerate(rows) for (a, k, u, v) in r.numeric),
        )
        rej = list(rejects)
        db.executemany(
            f"INSERT INTO {layout.REJECTS_TABLE} VALUES (?, ?, ?, ?)",
            ((name, x.line, x.id, x.reason) for x in rej),
        )
        for c in cols:
            db.execute(f'CREATE INDEX "ix_{lookup}_{c}" ON {lookup}("{c}")')
        db.execute(f"CREATE INDEX ix_{numeric} ON {numeric}(attribute, key, value)")
        db.execute(f"CREATE INDEX ix_{numeric}_pos ON {numeric}(pos, unit)")
        db.commit()

        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        np.save(self.path / layout.vectors_file(name), vecs, allow_pickle=False)
        HnswIndex.build(vecs, hnsw).save(self.path / layout.ann_file(name))

        self._tables[lookup] = len(rows)
        self._tables[fts] = len(rows)
        self._tables[numeric] = sum(len(r.numeric) for r in rows)
        self._tables[f"{layout.DETAIL_TABLE}[{name}]"] = len(rows)
        self._tables[f"{layout.REJECTS_TABLE}[{name}]"] = len(rej)
        self._collections[name] = info

    def add_file(self, name: str, source: Path) -> None:
        """Copy ``source`` into the snapshot as ``name`` (a file name of ``layout``, e.g. the
        query encoder); ``finish`` checksums it with every other file."""
        if name != Path(name).name or name in (layout.MANIFEST, layout.SEAL, layout.SQLITE):
            raise SnapshotError(f"{name!r} cannot be added to a snapshot")
        target = self.path / name
        if target.exists():
            raise SnapshotError(f"{name} is already in the snapshot being built")
        shutil.copyfile(source, target)

    @property
    def collections(self) -> dict[str, CollectionInfo]:
        return dict(self._collections)

    @property
    def tables(self) -> dict[str, int]:
        return dict(self._tables)

    def _seal_sqlite(self) -> None:
        db = self._db
        for name in self._collections:
            fts = layout.fts_table(name)
            db.execute(f"INSERT INTO {fts}({fts}) VALUES('optimize')")
        db.commit()
        db.execute("ANALYZE")
        db.commit()
        db.execute("VACUUM")
        db.execute("PRAGMA journal_mode=DELETE")
        db.close()

    def file_entries(self) -> dict[str, FileEntry]:
        """Every file under the snapshot directory (subdirectories too, as relative posix
        paths), but the manifest and its seal."""
        out: dict[str, FileEntry] = {}
        for p in sorted(self.path.rglob("*")):
            name = p.relative_to(self.path).as_posix()
            if not p.is_file() or name in (layout.MANIFEST, layout.SEAL):
                continue
            out[name] = FileEntry(sha256=sha256_file(p), bytes=p.stat().st_size)
        return out

    def finish(self, manifest_fields: dict[str, Any]) -> Manifest:
        """Seal, checksum, write the manifest, fsync and rename into place."""
        self._seal_sqlite()
        for p in self.path.rglob("*"):
            fsync_file(p)
        manifest = Manifest(
            snapshot_id=self.snapshot_id,
            collections=self._collections,
            tables=self._tables,
            files=self.file_entries(),
            **manifest_fields,
        )
        write_manifest(self.path, manifest)
        fsync_dir(self.path)
        os.rename(self.path, self.final_path)
        fsync_dir(self.root)
        self._done = True
        return manifest
