"""Store layout: snapshot ids made and taken apart, and the fetch cache's paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from snapsearch.format import layout

DIGEST = "0123abcd" + "e" * 56  # a sha256 hex digest
BUILT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_new_snapshot_id_spells_utc_time_and_digest_prefix() -> None:
    assert layout.new_snapshot_id(BUILT, DIGEST) == "20240501T120000123456Z-0123abcd"


def test_new_snapshot_id_converts_to_utc() -> None:
    plus_two = BUILT.astimezone(timezone(timedelta(hours=2)))
    assert layout.new_snapshot_id(plus_two, DIGEST) == layout.new_snapshot_id(BUILT, DIGEST)


def test_id_round_trip() -> None:
    sid = layout.new_snapshot_id(BUILT, DIGEST)
    parsed = layout.parse_snapshot_id(sid)
    assert parsed.built_at == BUILT and parsed.built_at.tzinfo is UTC
    assert parsed.digest == DIGEST[: layout.ID_DIGEST_CHARS]
    assert parsed.matches(DIGEST)
    assert not parsed.matches("f" * 64)
    assert layout.is_snapshot_id(sid)


@pytest.mark.parametrize(
    "name",
    [
        "current",
        "",
        "20240501T120000123456Z-0123ABCD",  # upper-case hex
        "20240501T120000123456Z-0123abc",  # digest too short
        "20240501T120000Z-0123abcd",  # no microseconds
        "20241301T120000000000Z-0123abcd",  # month 13: the right shape, not a time
        "../20240501T120000123456Z-0123abcd",
        ".tmp-20240501T120000123456Z-0123abcd",
    ],
)
def test_parse_rejects_a_non_id(name: str) -> None:
    with pytest.raises(ValueError, match="is not a snapshot id") as err:
        layout.parse_snapshot_id(name)
    assert repr(name) in str(err.value) and "YYYYMMDD" in str(err.value)
    assert not layout.is_snapshot_id(name)


def test_parsed_ids_order_by_build_time() -> None:
    times = [BUILT + timedelta(microseconds=n) for n in (5, 0, 1_000_000, 3)]
    ids = [layout.new_snapshot_id(t, DIGEST) for t in times]
    assert sorted(ids, key=layout.parse_snapshot_id) == sorted(ids)
    assert [layout.parse_snapshot_id(i).built_at for i in sorted(ids)] == sorted(times)


def test_list_snapshot_dirs_oldest_first_and_only_ids(tmp_path: Path) -> None:
    newer = layout.new_snapshot_id(BUILT + timedelta(days=1), DIGEST)
    older = layout.new_snapshot_id(BUILT, "f" * 64)
    not_ids = ("notes", f"{layout.TMP_PREFIX}{older}", "20241301T120000000000Z-0123abcd")
    for name in (newer, older, *not_ids):
        (tmp_path / name).mkdir()
    (tmp_path / layout.CURRENT).symlink_to(newer)
    assert [p.name for p in layout.list_snapshot_dirs(tmp_path)] == [older, newer]
    assert layout.list_snapshot_dirs(tmp_path / "missing") == []


def test_fetch_cache_paths(tmp_path: Path) -> None:
    raw = tmp_path / "_raw"
    assert layout.raw_dir(tmp_path) == raw
    assert layout.raw_objects_dir(tmp_path) == raw / "objects"
    assert layout.raw_object_path(tmp_path, "ab" * 32) == raw / "objects" / ("ab" * 32)
    assert layout.fetch_manifest_path(tmp_path) == raw / "fetch-manifest.jsonl"
