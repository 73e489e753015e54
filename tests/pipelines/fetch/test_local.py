"""Local sources: a file or a directory of data files, into the raw cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.fetch import fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import SourceError
from snapsearch.format.hashing import sha256_bytes
from tests.pipelines.fetch.conftest import T0, clock, objects


def test_local_file_first_fetch_is_new(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n{"id": 2}\n')

    v = fetch_source(str(src), root, now=clock(T0))

    assert v.new is True
    assert v.source == str(src)
    assert v.fetched_at == "2024-05-01T12:00:00Z"
    (f,) = v.files
    assert f.name == "parts.jsonl"
    assert f.sha256 == sha256_bytes(src.read_bytes())
    assert f.bytes == src.stat().st_size
    assert f.path == layout.raw_object_path(root, f.sha256)
    assert f.path.read_bytes() == src.read_bytes()
    lines = layout.fetch_manifest_path(root).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["digest"] == v.digest
    assert entry["files"] == [{"name": "parts.jsonl", "sha256": f.sha256, "bytes": f.bytes}]
    assert (entry["sha256"], entry["bytes"]) == (f.sha256, f.bytes)
    assert entry["etag"] is None and entry["last_modified"] is None
    assert not [p for p in objects(root) if p.name.startswith(layout.TMP_PREFIX)]

def test_directory_digest_is_stable_and_independent_of_creation_order(
    tmp_path: Path, root: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.jsonl").write_bytes(b"A\n")
    (one / "b.csv").write_bytes(b"id\n1\n")
    (two / "b.csv").write_bytes(b"id\n1\n")
    (two / "a.jsonl").write_bytes(b"A\n")
    (two / "notes.txt").write_bytes(b"ignored\n")
    (two / ".hidden.jsonl").write_bytes(b"ignored\n")

    v1 = fetch_source(str(one), root)
    v2 = fetch_source(str(two), root)
    v1_again = fetch_source(str(one), root)

    assert [f.name for f in v1.files] == ["a.jsonl", "b.csv"]
    assert [f.name for f in v2.files] == ["a.jsonl", "b.csv"]
    assert v1.digest == v2.digest
    assert v1_again.new is False and v1_again.digest == v1.digest
    entry = read_fetch_manifest(root)[0]
    assert [f["name"] for f in entry["files"]] == ["a.jsonl", "b.csv"]

def test_directory_takes_every_data_suffix(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ["d.jsonl.gz", "c.json", "b.csv", "a.jsonl", "e.parquet", "f.gz"]:
        (src / name).write_bytes(name.encode())

    v = fetch_source(str(src), root)

    assert [f.name for f in v.files] == ["a.jsonl", "b.csv", "c.json", "d.jsonl.gz"]

def test_missing_path_is_a_source_error(tmp_path: Path, root: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SourceError, match="does not exist") as err:
        fetch_source(str(missing), root)
    assert str(missing) in str(err.value)
    assert err.value.fix
    assert read_fetch_manifest(root) == []

def test_empty_directory_is_a_source_error(tmp_path: Path, root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("not data")
    with pytest.raises(SourceError, match="no data files") as err:
        fetch_source(str(empty), root)
    assert str(empty) in str(err.value)
    assert err.value.fix
