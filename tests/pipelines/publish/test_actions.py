"""Publish and rollback: which snapshot becomes current, what is refused, what a crash leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.publish import publish, rollback
from snapsearch.format import layout
from snapsearch.format.errors import GateError, SnapshotError, StoreError
from snapsearch.format.links import current_id, previous_id, resolve_current
from tests.pipelines.publish.conftest import (
    A,
    B,
    C,
    D,
    MakeSnapshot,
    RealSnapshots,
    clock,
    log_bytes,
    tmp_entries,
)

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
    publish(root, A)  # (its retention would remove a B that never got a gate report)
    make_snapshot(B, gates=gates)
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


def test_publish_refuses_negative_retention(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    with pytest.raises(ValueError, match="retention must be >= 0"):
        publish(root, A, retention=-1)
    assert current_id(root) is None


def test_publish_into_a_missing_store_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist") as err:
        publish(tmp_path / "nothing", A)
    assert err.value.fix and "snapsearch run" in err.value.fix


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
    assert resolve_current(root) == (root / A).resolve()
    assert tmp_entries(root) == []
    assert log_bytes(root) == before
    publish(root, B)  # the store is still usable
    assert (current_id(root), previous_id(root)) == (B, A)


# -- rollback (real snapshots: rollback verifies its target in full) ------------------------


def test_rollback_to_previous_and_back(root: Path, real_snapshots: RealSnapshots) -> None:
    a, b = real_snapshots(2)
    publish(root, a)
    publish(root, b)
    event = rollback(root)
    assert (current_id(root), previous_id(root)) == (a, b)
    assert (event.action, event.from_id, event.to_id) == ("rollback", b, a)
    rollback(root)
    assert (current_id(root), previous_id(root)) == (b, a)


def test_rollback_to_named_snapshot(root: Path, real_snapshots: RealSnapshots) -> None:
    a, b, c = real_snapshots(3)
    publish(root, a)
    publish(root, b)
    publish(root, c)
    event = rollback(root, a)
    assert (current_id(root), previous_id(root)) == (a, c)
    assert event.to_id == a and a in event.note


def test_rollback_to_current_is_refused(root: Path, real_snapshots: RealSnapshots) -> None:
    (a,) = real_snapshots(1)
    publish(root, a)
    before = log_bytes(root)
    with pytest.raises(StoreError, match=f"refusing to roll back to {a}: it is already current"):
        rollback(root, a)
    assert (current_id(root), previous_id(root)) == (a, None)
    assert log_bytes(root) == before


def test_rollback_refuses_named_snapshot_with_failed_gates(
    root: Path, real_snapshots: RealSnapshots, make_snapshot: MakeSnapshot
) -> None:
    (a,) = real_snapshots(1)
    publish(root, a)
    make_snapshot(B, gates="failed")
    with pytest.raises(GateError, match=B):
        rollback(root, B)
    assert current_id(root) == a


def test_rollback_without_previous_names_the_fix(
    root: Path, real_snapshots: RealSnapshots
) -> None:
    (a,) = real_snapshots(1)
    publish(root, a)
    with pytest.raises(StoreError, match="snapsearch status lists them"):
        rollback(root)
    assert current_id(root) == a


def test_rollback_refuses_a_corrupt_target(root: Path, real_snapshots: RealSnapshots) -> None:
    """Issue 11 finding 3: only the gate report was checked; now every byte is."""
    a, b = real_snapshots(2)
    publish(root, a)
    publish(root, b)
    vectors = next((root / a).glob("vectors_*.npy"))
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the data, gate report still bound to the manifest
    os.chmod(vectors, 0o644)
    vectors.write_bytes(bytes(data))
    before = log_bytes(root)
    with pytest.raises(SnapshotError, match=f"{a}.*(sha256|checksum)"):
        rollback(root)
    assert (current_id(root), previous_id(root)) == (b, a)
    assert log_bytes(root) == before


def test_publish_refuses_a_candidate_older_than_current(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(B)
    publish(root, B)
    make_snapshot(A)
    with pytest.raises(StoreError, match=f"not publishing {A}: it is older than current {B}"):
        publish(root, A)
    assert current_id(root) == B


def test_publish_refuses_when_current_moved_since_the_baseline(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    """Issue 11 finding 4: a run validated against A; an operator rolled back meanwhile."""
    for sid in (A, B):
        make_snapshot(sid)
        publish(root, sid)
    make_snapshot(C)
    with pytest.raises(StoreError, match=f"current moved from {A} to {B}"):
        publish(root, C, expect_current=A)
    assert current_id(root) == B
    publish(root, C, expect_current=B)
    assert (current_id(root), previous_id(root)) == (C, B)
