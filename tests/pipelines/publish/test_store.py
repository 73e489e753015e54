"""Publish stage: atomic link flips, gate refusal, rollback, retention, log and lock."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.publish import store
from pipelines.publish.store import (
    apply_retention,
    publish,
    read_publish_log,
    rollback,
    store_status,
)
from snapsearch.format import layout
from snapsearch.format.errors import GateError, StoreError
from snapsearch.format.gates import GateReport, GateResult, write_gate_report
from snapsearch.format.hashing import sha256_file
from snapsearch.format.links import current_id, previous_id

T0 = datetime(2026, 11, 22, 19, 8, 12, tzinfo=UTC)
A = "20261120T100000000000Z-aaaaaaaa"
B = "20261121T100000000000Z-bbbbbbbb"
C = "20261122T100000000000Z-cccccccc"
D = "20261123T100000000000Z-dddddddd"

MakeSnapshot = Callable[..., Path]


def clock(moment: datetime = T0) -> Callable[[], datetime]:
    return lambda: moment


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "snapshots"
    r.mkdir()
    return r


@pytest.fixture
def make_snapshot(root: Path) -> MakeSnapshot:
    """A fake snapshot dir: a minimal manifest.json and a gate report bound to its bytes.

    gates: "passed", "failed", "missing" (never ran) or "stale" (ran on other manifest bytes).
    """

    def make(snapshot_id: str, *, gates: str = "passed") -> Path:
        d = root / snapshot_id
        d.mkdir()
        manifest = d / layout.MANIFEST
        manifest.write_text(json.dumps({"snapshot_id": snapshot_id}), encoding="utf-8")
        if gates == "missing":
            return d
        report = GateReport(
            snapshot_id=snapshot_id,
            manifest_sha256=sha256_file(manifest),
            ran_at=T0.isoformat(),
            gates={"integrity": GateResult(passed=gates != "failed", description="ok")},
        )
        write_gate_report(d, report)
        if gates == "stale":
            manifest.write_text(json.dumps({"snapshot_id": snapshot_id, "x": 1}), encoding="utf-8")
        return d

    return make


@pytest.fixture
def fast_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "LOCK_WAIT_S", 0.3)


@contextmanager
def held_lock(root: Path) -> Iterator[None]:
    """Hold the store lock through a separate open file description (as another process would)."""
    fd = os.open(root / layout.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def log_bytes(root: Path) -> bytes:
    path = root / layout.PUBLISH_LOG
    return path.read_bytes() if path.exists() else b""


def tmp_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(layout.TMP_PREFIX))


# -- publish ---------------------------------------------------------------------------------


def test_first_publish_sets_current_and_no_previous(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    event = publish(root, A, now=clock())
    assert current_id(root) == A
    assert previous_id(root) is None
    assert (event.action, event.from_id, event.to_id) == ("publish", None, A)
    assert event.gate_summary == {"passed": True, "failed": []}
    assert event.at == "2026-11-22T19:08:12Z"


def test_second_publish_moves_old_current_to_previous(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    event = publish(root, B)
    assert (current_id(root), previous_id(root)) == (B, A)
    assert (event.from_id, event.to_id) == (A, B)
    assert tmp_entries(root) == []


def test_links_are_relative_symlinks(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    publish(root, B)
    for name, target in ((layout.CURRENT, B), (layout.PREVIOUS, A)):
        link = root / name
        assert link.is_symlink()
        assert os.readlink(link) == target
        assert link.resolve() == (root / target).resolve()


def test_publishing_current_again_changes_nothing(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    publish(root, A)
    before = log_bytes(root)
    event = publish(root, A)
    assert event.note == "already current"
    assert current_id(root) == A and previous_id(root) is None
    assert log_bytes(root) == before


@pytest.mark.parametrize(
    ("gates", "words"),
    [("failed", "gates failed: integrity"), ("missing", "never ran"), ("stale", "other manifest")],
)
def test_publish_refuses_snapshot_without_passed_bound_gates(
    root: Path, make_snapshot: MakeSnapshot, gates: str, words: str
) -> None:
    make_snapshot(A)
    make_snapshot(B, gates=gates)
    publish(root, A)
    before = log_bytes(root)
    with pytest.raises(GateError) as err:
        publish(root, B)
    message = str(err.value)
    assert B in message and words in message and "fix:" in message
    assert "\n" not in message
    assert (current_id(root), previous_id(root)) == (A, None)
    assert log_bytes(root) == before


@pytest.mark.parametrize("name", [D, "not-an-id", "../" + A])
def test_publish_refuses_unknown_snapshot(
    root: Path, make_snapshot: MakeSnapshot, name: str
) -> None:
    make_snapshot(A)
    with pytest.raises(StoreError, match="is not a snapshot"):
        publish(root, name)
    assert current_id(root) is None


def test_crash_during_flip_leaves_current_on_old_snapshot(
    root: Path, make_snapshot: MakeSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    before = log_bytes(root)
    real_replace = os.replace

    def crashing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == layout.CURRENT:
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        publish(root, B)
    monkeypatch.undo()
    assert current_id(root) == A
    assert (root / layout.CURRENT).resolve() == (root / A).resolve()
    assert tmp_entries(root) == []
    assert log_bytes(root) == before
    publish(root, B)  # the store is still usable
    assert (current_id(root), previous_id(root)) == (B, A)


# -- rollback --------------------------------------------------------------------------------


def test_rollback_to_previous_and_back(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    publish(root, B)
    event = rollback(root)
    assert (current_id(root), previous_id(root)) == (A, B)
    assert (event.action, event.from_id, event.to_id) == ("rollback", B, A)
    rollback(root)
    assert (current_id(root), previous_id(root)) == (B, A)


def test_rollback_to_named_snapshot(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B, C):
        make_snapshot(sid)
    publish(root, A)
    publish(root, B)
    publish(root, C)
    event = rollback(root, A)
    assert (current_id(root), previous_id(root)) == (A, C)
    assert event.to_id == A and A in event.note


def test_rollback_refuses_named_snapshot_with_failed_gates(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    make_snapshot(B, gates="failed")
    publish(root, A)
    with pytest.raises(GateError, match=B):
        rollback(root, B)
    assert current_id(root) == A


def test_rollback_without_previous_names_the_fix(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    publish(root, A)
    with pytest.raises(StoreError, match="snapsearch status lists them"):
        rollback(root)
    assert current_id(root) == A


# -- retention -------------------------------------------------------------------------------


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


def test_publish_applies_retention(root: Path, make_snapshot: MakeSnapshot) -> None:
    for sid in (A, B, C):  # built and published one after another
        make_snapshot(sid)
        publish(root, sid, retention=1)
    assert [p.name for p in layout.list_snapshot_dirs(root)] == [B, C]
    assert tmp_entries(root) == []


# -- log, status ---------------------------------------------------------------------------


def test_publish_log_appends_events_in_order(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A, now=clock(datetime(2026, 1, 1, tzinfo=UTC)))
    publish(root, B, now=clock(datetime(2026, 1, 2, tzinfo=UTC)))
    rollback(root, now=clock(datetime(2026, 1, 3, tzinfo=UTC)))
    lines = [json.loads(x) for x in log_bytes(root).decode().splitlines()]
    assert [(x["action"], x["from"], x["to"]) for x in lines] == [
        ("publish", None, A),
        ("publish", A, B),
        ("rollback", B, A),
    ]
    assert lines[0]["gate_summary"] == {"passed": True, "failed": []}
    assert [e.at[:10] for e in read_publish_log(root)] == ["2026-01-01", "2026-01-02", "2026-01-03"]


def test_torn_log_line_is_skipped_and_closed(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    (root / layout.PUBLISH_LOG).write_bytes(b'{"at": "2026-')  # a crash mid-append
    publish(root, A)
    events = read_publish_log(root)
    assert [(e.action, e.to_id) for e in events] == [("publish", A)]


def test_store_status(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    make_snapshot(B)
    make_snapshot(C, gates="failed")
    publish(root, A)
    publish(root, B)
    st = store_status(root, events=1)
    assert (st.current, st.previous) == (B, A)
    assert [s.snapshot_id for s in st.snapshots] == [C, B, A]
    info = {s.snapshot_id: s for s in st.snapshots}
    assert info[B].is_current and info[A].is_previous and not info[C].is_current
    assert (info[A].gates_passed, info[C].gates_passed) == (True, False)
    assert info[A].built_at is None  # the minimal manifest is not a valid one
    assert info[A].bytes > 0
    assert [e.to_id for e in st.events] == [B]
    assert json.loads(json.dumps(st.to_dict()))["current"] == B


def test_store_status_of_missing_root(tmp_path: Path) -> None:
    st = store_status(tmp_path / "nothing")
    assert (st.current, st.previous, st.snapshots, st.events) == (None, None, [], [])


# -- lock ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast_lock")
def test_lock_held_elsewhere_refuses_publish(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    with held_lock(root), pytest.raises(StoreError, match="another publish is in progress"):
        publish(root, A)
    assert current_id(root) is None
    publish(root, A)  # released: works
    assert current_id(root) == A


@pytest.mark.usefixtures("fast_lock")
def test_lock_held_by_another_process(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    args = [sys.executable, "-c", code, str(root / layout.LOCK)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="another publish is in progress"):
            rollback(root, A)
        holder.stdin.close()
        holder.wait(timeout=10)
    rollback(root, A)
    assert current_id(root) == A


def test_publish_waits_for_a_short_lock(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    release = threading.Event()
    locked = threading.Event()

    def hold() -> None:
        with held_lock(root):
            locked.set()
            release.wait(timeout=5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=5)
    timer = threading.Timer(0.2, release.set)
    timer.start()
    try:
        publish(root, A)
    finally:
        release.set()
        timer.cancel()
        holder.join()
    assert current_id(root) == A
