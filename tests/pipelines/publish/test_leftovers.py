"""Leftovers of killed processes: found and removed by the next holder of the run lock, at any
age (issue 11 finding 5); what is not provably dead stays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.publish import clean_leftovers, find_leftovers, publish, run_lock
from snapsearch.format import layout, links
from tests.pipelines.publish.conftest import A, B, C, D, MakeSnapshot


def test_every_kind_of_leftover_goes(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B):
        make_snapshot(sid)
        publish(root, sid)
    make_snapshot(C, gates="failed")  # judged: retention's, not a leftover
    never_gated = make_snapshot(D, gates="missing")  # killed between rename and gates
    build = root / f"{layout.TMP_PREFIX}20261124T100000000000Z-eeeeeeee"
    build.mkdir()
    (build / layout.SQLITE).write_bytes(b"half")
    flip_link = root / f"{links.LINK_TMP_PREFIX}current-abc"
    os.symlink(A, flip_link)
    report_tmp = layout.gates_dir(root) / f"{layout.TMP_PREFIX}{B}-1a2b"  # never renamed
    report_tmp.write_text("{", encoding="utf-8")
    orphan = layout.gate_report_path(root, "20261101T100000000000Z-ffffffff")  # its dir is gone
    orphan.write_text("{}", encoding="utf-8")
    objects = layout.raw_objects_dir(root)
    objects.mkdir(parents=True)
    fetch_tmp = objects / f"{layout.TMP_PREFIX}k2j3"
    fetch_tmp.write_bytes(b"partial download")
    keep = [root / "notes.txt", objects / ("a" * 64)]
    for path in keep:
        path.write_text("mine", encoding="utf-8")

    expected = sorted([never_gated, build, flip_link, report_tmp, orphan, fetch_tmp])
    assert find_leftovers(root) == expected
    with run_lock(root):
        removed = clean_leftovers(root)
    assert sorted(removed) == sorted(str(p.relative_to(root)) for p in expected)
    assert not any(p.exists() or p.is_symlink() for p in expected)
    assert all(p.exists() for p in keep)
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [A, B, C]
    assert (links.current_id(root), links.previous_id(root)) == (B, A)
    assert find_leftovers(root) == []


def test_linked_snapshots_are_never_leftovers(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    publish(root, A)
    layout.gate_report_path(root, A).unlink()  # current lost its report: serve refuses it; kept
    assert find_leftovers(root) == []


def test_cleaning_needs_the_run_lock(root: Path) -> None:
    with pytest.raises(RuntimeError, match="run lock"):
        clean_leftovers(root)
