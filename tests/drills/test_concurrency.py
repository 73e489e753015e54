"""Concurrency drill (issue 11 finding 4 and "Drills"): parallel runs, a run during a rollback,
retention during a build. One run at a time: the second is refused at once (never a wait, never
a hang), no older build replaces a newer one, a rollback wins over a run that validated against
the old `current`, and nothing another run is building or validating is touched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.publish import apply_retention, lock, publish, read_publish_log, rollback
from snapsearch.format import layout, links
from snapsearch.format.errors import StoreError
from tests.conftest import sample_records, write_jsonl
from tests.drills.forked import FAILED, pause_at
from tests.drills.test_crash import assert_clean, assert_sound, plain_run, settings_for


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "store"
    for n in (40, 41):
        plain_run(settings_for(root, write_jsonl(tmp_path / f"p{n}.jsonl", sample_records(n))))
    return root, write_jsonl(tmp_path / "parts.jsonl", sample_records(42))


def test_a_second_run_is_refused_at_once_while_one_builds(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    root, source = store
    s = settings_for(root, source)
    first = pause_at("build.written", lambda: plain_run(s, "first"), tmp_path)
    first.wait_reached()
    t0 = time.monotonic()
    with pytest.raises(StoreError, match=rf"another run is in progress .*pid {first.pid}, "
                                         "run first"):
        plain_run(s, "second")
    assert time.monotonic() - t0 < 2.0
    assert first.resume() == 0
    assert_sound(root)
    assert_clean(root)
    assert [e.action for e in read_publish_log(root)] == ["publish"] * 3


def test_a_rollback_during_a_run_wins(store: tuple[Path, Path], tmp_path: Path) -> None:
    """The run validated against `current` B; an operator rolls back to A meanwhile: the run
    does not publish over the rollback."""
    root, source = store
    a, b = links.previous_id(root), links.current_id(root)
    run = pause_at("gates.reported", lambda: plain_run(settings_for(root, source)), tmp_path)
    run.wait_reached()
    rollback(root)  # rollback needs no run lock: it works while a run is in progress
    assert links.current_id(root) == a
    assert run.resume() == FAILED  # "current moved from B to A while this run validated it"
    assert (links.current_id(root), links.previous_id(root)) == (a, b)
    assert_sound(root)
    validated = layout.list_snapshot_dirs(root)[-1].name  # kept: it passed its gates
    assert validated not in (a, b)
    rollback(root, validated)  # the operator can still publish it deliberately
    assert links.current_id(root) == validated


def test_a_run_during_a_stuck_rollback_fails_cleanly(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(A rollback holds the store lock for milliseconds; publish waits LOCK_WAIT_S for it.)"""
    monkeypatch.setattr(lock, "LOCK_WAIT_S", 0.5)
    root, source = store
    before = links.current_id(root)
    stuck = pause_at("rollback.locked", lambda: rollback(root), tmp_path)  # holds the store lock
    stuck.wait_reached()
    with pytest.raises(StoreError, match="another publish is in progress"):
        plain_run(settings_for(root, source))
    assert stuck.resume() == 0
    assert links.current_id(root) != before
    assert_sound(root)
    plain_run(settings_for(root, source), "next")  # the store is fine: the next run publishes
    assert_sound(root)
    assert_clean(root)


def test_retention_during_a_build_touches_nothing_of_it(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    root, source = store
    s = settings_for(root, source)
    for point in ("build.written", "gates.judged"):  # building; then renamed, being validated
        run = pause_at(point, lambda p=point: plain_run(s, p), tmp_path)
        run.wait_reached()
        unfinished = sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-2")) or [
            layout.list_snapshot_dirs(root)[-1].name]
        with pytest.raises(StoreError, match="another run is in progress"):
            apply_retention(root, keep=0)
        assert all((root / name).is_dir() for name in unfinished)
        assert run.resume() == 0
        assert_sound(root)
    assert_clean(root)


def test_parallel_publishers_never_replace_a_newer_snapshot(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """An older candidate (built before current) is refused even by a direct publish."""
    root, source = store
    older = layout.list_snapshot_dirs(root)[0].name
    newest = links.current_id(root)
    with pytest.raises(StoreError, match=f"not publishing {older}: it is older than current"):
        publish(root, older)
    assert links.current_id(root) == newest
