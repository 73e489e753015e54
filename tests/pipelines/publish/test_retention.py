"""Retention: the newest judged snapshots and the link targets stay; leftovers of killed
processes go (whatever their age) when no run is in progress; nothing else is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.publish import apply_retention, publish
from snapsearch.format import layout, links
from snapsearch.format.errors import StoreError
from snapsearch.format.links import current_id, previous_id
from tests.pipelines.publish.conftest import A, B, C, D, MakeSnapshot, tmp_entries


def test_retention_keeps_newest_and_link_targets(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B):
        make_snapshot(sid)
        publish(root, sid, retention=10)
    make_snapshot(C, gates="failed")  # judged: counts, kept for inspection while young
    make_snapshot(D)
    links.flip(root, layout.CURRENT, A)  # as a rollback leaves it: current A, previous B
    links.flip(root, layout.PREVIOUS, B)
    build_dir = root / f"{layout.TMP_PREFIX}{D}x"  # a killed build, however recent
    build_dir.mkdir()
    (build_dir / "part").write_text("x", encoding="utf-8")
    other = root / "notes"
    other.mkdir()

    removed = apply_retention(root, keep=1)

    assert sorted(removed) == sorted([C, build_dir.name])
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [A, B, D]
    assert other.is_dir() and tmp_entries(root) == []
    assert (current_id(root), previous_id(root)) == (A, B)


def test_snapshots_without_gate_report_are_not_counted(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    publish(root, A, retention=1)
    make_snapshot(B)
    make_snapshot(C)
    # a snapshot never judged is a dead leftover (no run is in progress): removed, not counted
    make_snapshot(D, gates="missing")
    removed = apply_retention(root, keep=1)
    assert sorted(removed) == [B, D]
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [A, C]


def test_retention_refuses_while_another_run_is_in_progress(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    """Retention during a build: the build's dir and its unjudged snapshot stay untouched."""
    for sid in (A, B, C):
        make_snapshot(sid)
    publish(root, A, retention=10)
    building = root / f"{layout.TMP_PREFIX}{D}"
    building.mkdir()
    make_snapshot(D, gates="missing")  # renamed into place, gates running
    code = (
        "import sys; from pathlib import Path\n"
        "from pipelines.publish.runlock import acquire\n"
        "acquire(Path(sys.argv[1]), 'run-elsewhere'); print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    args = [sys.executable, "-c", code, str(root)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None and run.stdin is not None
        assert run.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=r"another run is in progress .*run run-elsewhere"):
            apply_retention(root, keep=0)
        run.stdin.close()
        run.wait(timeout=10)
    assert building.is_dir() and (root / D).is_dir()
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [A, B, C, D]


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
