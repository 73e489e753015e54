"""Writer and reader: a built snapshot is complete, sealed, read-only and round-trips records."""

from __future__ import annotations

import gc
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipelines.transform.build import BuildResult
from snapsearch.format import layout, reader
from snapsearch.format.errors import SnapshotError
from snapsearch.format.hashing import sha256_file
from snapsearch.format.manifest import HnswSettings
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import Snapshot, open_snapshot, open_snapshots
from snapsearch.format.writer import Reject, Row, SnapshotWriter
from snapsearch.kinds import get_kind
from tests.conftest import sample_records

SNAPSHOT_ID = "20240101T000000000000Z-deadbeef"


@pytest.fixture
def snap(built: BuildResult) -> Iterator[Snapshot]:
    with open_snapshot(built.path, checksums=True) as s:
        yield s


def c25744() -> dict:
    return next(r for r in sample_records() if r["lcsc"] == "C25744")


def count_rows(conn: sqlite3.Connection, table: str) -> int:
    m = re.fullmatch(r"(\w+)\[(\w+)\]", table)
    if m:  # per-collection rows of a shared table: detail[parts], rejects[parts]
        q = f"SELECT count(*) FROM {m.group(1)} WHERE collection = ?"
        return int(conn.execute(q, (m.group(2),)).fetchone()[0])
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_built_snapshot_opens(snap, built):
    assert snap.snapshot_id == built.snapshot_id
    assert list(snap.collections) == ["parts"]
    coll = snap.collection(None)
    assert coll.count == built.records == 301
    assert len(coll.ann) == len(coll.exact) == 301


def test_row_counts_match_sqlite(snap):
    tables = snap.manifest.tables
    assert set(tables) == {"lookup_parts", "fts_parts", "numeric_parts", "detail[parts]",
                           "rejects[parts]"}
    for table, expected in tables.items():
        assert count_rows(snap.conn, table) == expected, table
    assert tables["lookup_parts"] == snap.manifest.collections["parts"].records


def test_every_file_is_in_the_manifest(built):
    on_disk = {p.name for p in built.path.iterdir()} - {layout.MANIFEST, layout.SEAL}
    files = built.manifest.files
    assert on_disk == set(files)
    assert {layout.SQLITE, layout.vectors_file("parts"), layout.ann_file("parts")} <= on_disk
    for name, entry in files.items():
        p = built.path / name
        assert entry.bytes == p.stat().st_size, name
        assert entry.sha256 == sha256_file(p), name


def test_record_round_trip(snap):
    coll = snap.collection("parts")
    raw = c25744()
    pos = coll.pos_of("C25744")
    assert pos is not None
    row = coll.rows([pos, pos])[pos]
    assert row["id"] == "C25744"
    assert row["mpn"] == "0402WGF1002TCE"
    assert row["package"] == "0402"
    assert row["library_type"] == "Basic"
    assert row["stock"] == 5618487 and isinstance(row["stock"], int)
    assert row["price_usd"] == pytest.approx(0.0013)
    assert coll.detail("C25744") == raw
    details = list(coll.iter_details())
    assert len(details) == coll.count
    assert raw in details
    assert coll.pos_of("C999999999") is None
    assert coll.detail("C999999999") is None
    assert coll.rows([10_000]) == {}


def test_positions_are_dense_and_match_vectors(snap, hash_encoder):
    coll = snap.collection("parts")
    rows = coll.rows(range(coll.count))
    assert sorted(rows) == list(range(coll.count))
    # the vector at a record's position is the encoding of that record's text
    pos = coll.pos_of("C25744")
    expected = hash_encoder.encode([get_kind("parts").to_row(c25744()).text])[0]
    np.testing.assert_array_equal(coll.vectors[pos], expected)


def test_vectors_are_normalised_float32(snap, built):
    vec = np.load(built.path / layout.vectors_file("parts"), allow_pickle=False)
    assert vec.dtype == np.float32
    assert vec.shape == (built.records, built.manifest.model.dim)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(snap.collection("parts").vectors, vec)


def test_sqlite_is_read_only(snap):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        snap.conn.execute(
            f"INSERT INTO {layout.DETAIL_TABLE} VALUES ('parts', 'C1', '{{}}')"
        )
    with pytest.raises(sqlite3.OperationalError):
        snap.conn.execute("CREATE TABLE t (x)")


def test_sqlite_is_not_wal_and_reading_leaves_no_files(built):
    before = sorted(p.name for p in built.path.iterdir())
    header = (built.path / layout.SQLITE).read_bytes()[:100]
    assert header[:16] == b"SQLite format 3\x00"
    assert (header[18], header[19]) == (1, 1)  # legacy rollback journal, not WAL (2)
    with open_snapshot(built.path) as s:
        coll = s.collection("parts")
        coll.rows(range(10))
        list(coll.iter_details())
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    after = sorted(p.name for p in built.path.iterdir())
    assert after == before
    assert not any(n.endswith(("-wal", "-shm", "-journal")) for n in after)


# -- closing -----------------------------------------------------------------------------------


def test_a_snapshot_is_a_context_manager_and_closes_once(built):
    with open_snapshot(built.path) as s:
        assert not s.closed
        assert s in open_snapshots()
    assert s.closed
    assert s not in open_snapshots()
    with pytest.raises(sqlite3.ProgrammingError):
        s.conn.execute("SELECT 1")
    s.close()  # a second close does nothing
    assert s.closed


def test_a_failed_open_closes_its_database(built, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("no index")

    monkeypatch.setattr("snapsearch.format.reader.HnswIndex.load", boom)
    opened: list[sqlite3.Connection] = []
    real = reader.connect_readonly
    monkeypatch.setattr(reader, "connect_readonly", lambda p: opened.append(real(p)) or opened[-1])
    with pytest.raises(RuntimeError, match="no index"):
        open_snapshot(built.path)
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")


def test_a_snapshot_dropped_open_warns(built):
    s = open_snapshot(built.path)
    with pytest.warns(ResourceWarning, match="unclosed snapshot"):
        del s
        gc.collect()


_LEFT_OPEN: list[Snapshot] = []


def test_a_test_may_leave_a_snapshot_open(built, snap):
    _LEFT_OPEN.append(open_snapshot(built.path))
    assert not _LEFT_OPEN[0].closed and not snap.closed


def test_the_autouse_fixture_closed_it():
    """tests/conftest.py closed what the test before left open (this runs after it)."""
    assert [s.closed for s in _LEFT_OPEN] == [True]
    _LEFT_OPEN.clear()


# -- the writer on its own ---------------------------------------------------------------------
def tiny_rows(n: int = 3) -> list[Row]:
    kind = get_kind("text")
    return [kind.to_row({"_id": f"d{i}", "title": f"title {i}", "text": f"body {i}"})
            for i in range(n)]


def test_failure_inside_the_block_leaves_nothing(tmp_path):
    root = tmp_path / "store"
    rows = tiny_rows()
    vecs = HashingEncoder(16).encode([r.text for r in rows])
    with pytest.raises(RuntimeError, match="boom"):
        with SnapshotWriter(root, SNAPSHOT_ID) as w:
            w.write_collection("docs", get_kind("text").collection_info(3, 0), rows, vecs,
                               HnswSettings())
            assert w.path.is_dir()
            raise RuntimeError("boom")
    assert list(root.iterdir()) == []


def test_leaving_the_block_without_finish_aborts(tmp_path):
    with SnapshotWriter(tmp_path, SNAPSHOT_ID):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_an_existing_id(built):
    root = built.path.parent
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(SnapshotError, match="already exists"):
        SnapshotWriter(root, built.snapshot_id)
    assert sorted(p.name for p in root.iterdir()) == before


def test_writer_refuses_a_bad_id(tmp_path):
    with pytest.raises(SnapshotError, match="not a snapshot id"):
        SnapshotWriter(tmp_path, "../escape")
    assert list(tmp_path.iterdir()) == []


def test_rows_and_vectors_must_agree(tmp_path):
    rows = tiny_rows(3)
    with pytest.raises(SnapshotError, match="3 rows but 2 vectors"):
        with SnapshotWriter(tmp_path, SNAPSHOT_ID) as w:
            w.write_collection("docs", get_kind("text").collection_info(3, 0), rows,
                               np.zeros((2, 16), np.float32), HnswSettings())
    assert list(tmp_path.iterdir()) == []


def test_writer_direct_round_trip(tmp_path):
    rows = tiny_rows(4)
    enc = HashingEncoder(16)
    vecs = enc.encode([r.text for r in rows])
    rejects = [Reject(line=5, id="d9", reason="both 'title' and 'text' are empty")]
    with SnapshotWriter(tmp_path, SNAPSHOT_ID) as w:
        w.write_collection("docs", get_kind("text").collection_info(4, 1), rows, vecs,
                           HnswSettings(), rejects)
        manifest = w.finish(
            {"built_at": "2024-01-01T00:00:00Z", "builder_version": "t", "inputs_digest": "x",
             "sources": [], "model": enc.pin, "hnsw": HnswSettings(),
             "fusion": {"method": "convex"}}
        )
    final: Path = tmp_path / SNAPSHOT_ID
    assert sorted(p.name for p in tmp_path.iterdir()) == [SNAPSHOT_ID]
    assert manifest.tables["rejects[docs]"] == 1
    with open_snapshot(final, checksums=True) as s:
        coll = s.collection("docs")
        assert [d["id"] for d in coll.iter_details()] == ["d0", "d1", "d2", "d3"]
        assert coll.detail("d2") == {"id": "d2", "title": "title 2", "text": "body 2"}
        got = s.conn.execute(f"SELECT line, id, reason FROM {layout.REJECTS_TABLE}").fetchall()
        assert [tuple(r) for r in got] == [(5, "d9", "both 'title' and 'text' are empty")]
        pos, sims = coll.ann.query(vecs[2], 1)
        assert pos.tolist() == [2]


def test_bm25_weights_follow_the_fts_columns_not_the_manifest_key_order(snap):
    """The manifest stores lexical_fields with sorted keys; bm25() takes weights by column."""
    coll = snap.collection("parts")
    kind = get_kind("parts")
    assert list(coll.fts_columns) == list(kind.lexical_fields)  # the order the writer made
    assert list(coll.info.lexical_fields) != list(kind.lexical_fields)  # sorted in the manifest
    assert coll.bm25_weights == ", ".join(str(w) for w in kind.lexical_fields.values())


def test_a_heavier_title_lifts_a_title_match_over_an_equal_body_match(tmp_path):
    """Title weighs 5, body 1: the doc naming the term in its title ranks first."""
    rows = [Row(id=i, text=f"{t}. {b}", lexical={"title": t, "text": b}, filters={},
                summary={"title": t}, detail={"id": i})
            for i, t, b in (("body", "alpha beta", "gamma zeta"),
                            ("title", "gamma beta", "alpha zeta"))]
    enc = HashingEncoder(16)
    with SnapshotWriter(tmp_path, SNAPSHOT_ID) as w:
        info = get_kind("text").collection_info(2, 0).model_copy(
            update={"lexical_fields": {"title": 5.0, "text": 1.0}})
        w.write_collection("docs", info, rows,
                           enc.encode([r.text for r in rows]), HnswSettings())
        w.finish({"built_at": "2024-01-01T00:00:00Z", "builder_version": "t", "inputs_digest": "x",
                  "sources": [], "model": enc.pin, "hnsw": HnswSettings(),
                  "fusion": {"method": "convex"}})
    with open_snapshot(tmp_path / SNAPSHOT_ID) as s:
        coll = s.collection("docs")
        got = s.conn.execute(
            f"SELECT rowid FROM {coll.fts} WHERE {coll.fts} MATCH 'gamma' "
            f"ORDER BY bm25({coll.fts}, {coll.bm25_weights})"
        ).fetchall()
        ranked = [coll.conn.execute(f"SELECT id FROM {coll.lookup} WHERE pos = ?",
                                    (r[0],)).fetchone()[0]
                  for r in got]
        assert ranked == ["title", "body"]
