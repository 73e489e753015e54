"""Raw versions: an unchanged source records nothing, a changed one a new entry."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.fetch import fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import StoreError
from tests.pipelines.fetch.conftest import T0, T1, clock


def test_unchanged_local_file_writes_nothing(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    first = fetch_source(str(src), root, now=clock(T0))
    manifest_before = layout.fetch_manifest_path(root).read_bytes()

    again = fetch_source(str(src), root, now=clock(T1))

    assert again.new is False
    assert again.digest == first.digest
    assert again.fetched_at == first.fetched_at
    assert again.files == first.files
    assert layout.fetch_manifest_path(root).read_bytes() == manifest_before
    assert len(read_fetch_manifest(root)) == 1

def test_changed_local_file_is_a_new_version(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    first = fetch_source(str(src), root, now=clock(T0))
    src.write_bytes(b'{"id": 1}\n{"id": 2}\n')

    second = fetch_source(str(src), root, now=clock(T1))

    assert second.new is True
    assert second.digest != first.digest
    assert [e["digest"] for e in read_fetch_manifest(root)] == [first.digest, second.digest]
    assert first.files[0].path.is_file() and second.files[0].path.is_file()


def test_naive_clock_is_recorded_as_utc(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    v = fetch_source(str(src), root, now=clock(datetime(2024, 5, 1, 12, 0, 0)))
    assert v.fetched_at == "2024-05-01T12:00:00Z"


def test_malformed_entry_for_the_source_names_the_fix(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    fetch_source(str(src), root)
    path = layout.fetch_manifest_path(root)
    entry = json.loads(path.read_text())
    del entry["fetched_at"]
    path.write_text(json.dumps(entry) + "\n")

    with pytest.raises(StoreError, match="is malformed") as err:
        fetch_source(str(src), root)
    assert str(src) in str(err.value)
    assert err.value.fix and "delete the fetch manifest" in err.value.fix
