"""The content-addressed raw cache and the fetch manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.fetch import fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import StoreError
from snapsearch.format.hashing import sha256_bytes
from tests.pipelines.fetch.conftest import objects


def test_large_file_round_trips_through_chunks(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "big.jsonl.gz"
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of the chunk size
    src.write_bytes(data)

    (f,) = fetch_source(str(src), root).files

    assert f.bytes == len(data)
    assert f.sha256 == sha256_bytes(data)
    assert f.path.read_bytes() == data

def test_existing_object_is_never_rewritten(tmp_path: Path, root: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"same\n")
    (tmp_path / "b.jsonl").write_bytes(b"same\n")
    (fa,) = fetch_source(str(tmp_path / "a.jsonl"), root).files
    stat_before = fa.path.stat()

    (fb,) = fetch_source(str(tmp_path / "b.jsonl"), root).files

    assert fb.path == fa.path
    assert fb.path.stat().st_ino == stat_before.st_ino
    assert fb.path.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert len(objects(root)) == 1
    assert len(read_fetch_manifest(root)) == 2  # two sources, one object


@pytest.mark.parametrize(
    ("line", "words"), [(b"{not json", "not valid JSON"), (b"[1]", "not a JSON object")]
)
def test_damaged_fetch_manifest_is_a_store_error(root: Path, line: bytes, words: str) -> None:
    path = layout.fetch_manifest_path(root)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"source": "x", "digest": "d"}\n' + line + b"\n")
    with pytest.raises(StoreError, match=words) as err:
        read_fetch_manifest(root)
    assert "line 2" in str(err.value) and str(path) in str(err.value)
    assert err.value.fix


def test_object_is_read_only_and_no_temp_file_is_left(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(b"A\n")
    (f,) = fetch_source(str(src), root).files
    assert f.path.parent == layout.raw_objects_dir(root)
    assert f.path.stat().st_mode & 0o222 == 0
    assert [p.name for p in objects(root)] == [f.sha256]
