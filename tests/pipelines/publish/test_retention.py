"""Retention: the newest snapshots and the link targets stay; old leftovers go; nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines.publish import apply_retention, publish, rollback
from snapsearch.format import layout, links
from snapsearch.format.links import current_id, previous_id
from tests.pipelines.publish.conftest import A, B, C, D, MakeSnapshot, tmp_entries


def test_retention_keeps_newest_and_link_targets(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B, C, D):
        make_snapshot(sid)
    publish(root, A, retention=10)
    publish(root, B, retention=10)
    rollback(root)  # current A (oldest), previous B
    old_tmp = root / f"{layout.TMP_PREFIX}{C}"
    old_tmp.mkdir()
    (old_tmp / "part").write_text("x", encoding="utf-8")
    hour_ago = time.time() - 2 * 3600
    os.utime(old_tmp / "part", (hour_ago, hour_ago))
    os.utime(old_tmp, (hour_ago, hour_ago))
    fresh_tmp = root / f"{layout.TMP_PREFIX}{D}"
    fresh_tmp.mkdir()
    other = root / "notes"
    other.mkdir()

    removed = apply_retention(root, keep=1)

    assert sorted(removed) == sorted([C, old_tmp.name])
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [A, B, D]
    assert fresh_tmp.is_dir() and other.is_dir()
    assert (current_id(root), previous_id(root)) == (A, B)


def test_retention_keeps_busy_build_dir(root: Path) -> None:
    busy = root / f"{layout.TMP_PREFIX}{D}"
    busy.mkdir()
    (busy / "records.sqlite").write_text("being written", encoding="utf-8")
    hour_ago = time.time() - 2 * 3600
    os.utime(busy, (hour_ago, hour_ago))  # the dir is old, the file inside is fresh
    assert apply_retention(root, keep=1) == []
    assert busy.is_dir()


def test_retention_removes_temp_links_of_interrupted_flips(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    publish(root, A)
    leftover = root / f"{links.LINK_TMP_PREFIX}current-0123abcd"
    os.symlink(A, leftover)
    assert apply_retention(root, keep=5) == [leftover.name]
    assert tmp_entries(root) == []
    assert current_id(root) == A


def test_publish_applies_retention(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B, C):  # built and published one after another
        make_snapshot(sid)
        publish(root, sid, retention=1)
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [B, C]
    assert tmp_entries(root) == []


def test_negative_keep_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="retention must be >= 0, got -1"):
        apply_retention(root, keep=-1)
