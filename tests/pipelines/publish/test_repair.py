"""A move killed between its two link flips or before its log line: repaired when the publish
log proves the earlier state, refused loudly when it cannot (issue 11 finding 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.publish import publish, read_publish_log, repair_links, rollback
from snapsearch.format import layout, links
from snapsearch.format.errors import StoreError
from snapsearch.format.links import current_id, previous_id
from tests.pipelines.publish.conftest import A, B, MakeSnapshot, RealSnapshots, log_bytes


def _killed_between_flips(root: Path, new: str) -> None:
    """What `move_current(root, current, new)` leaves when killed after its first flip."""
    old = current_id(root)
    assert old is not None
    links.flip(root, layout.PREVIOUS, old)


def test_rollback_after_a_kill_between_flips_repairs_previous_from_the_log(
    root: Path, real_snapshots: RealSnapshots
) -> None:
    a, b, c = real_snapshots(3)
    publish(root, a)
    publish(root, b)
    _killed_between_flips(root, c)  # publishing c was killed: previous == current == b
    assert previous_id(root) == current_id(root) == b
    event = rollback(root)
    assert (event.from_id, event.to_id) == (b, a)  # not "rolled back: b -> b"
    assert "put back to " + a in event.note
    assert (current_id(root), previous_id(root)) == (a, b)


def test_rollback_refuses_a_no_op_it_cannot_repair(
    root: Path, real_snapshots: RealSnapshots
) -> None:
    a, b = real_snapshots(2)
    publish(root, a)
    publish(root, b)
    (root / layout.PUBLISH_LOG).unlink()  # no log: nothing proves what previous was
    _killed_between_flips(root, a)
    with pytest.raises(StoreError, match=f"refusing to roll back to {b}: previous points at "
                                         "current too"):
        rollback(root)
    assert previous_id(root) == current_id(root) == b
    assert log_bytes(root) == b""


def test_first_publish_killed_between_flips_of_the_second(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    publish(root, A)
    _killed_between_flips(root, B)
    assert "removed" in (repair_links(root) or "")
    assert (current_id(root), previous_id(root)) == (A, None)


def test_a_move_killed_before_its_log_line_is_logged_on_repair(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    links.move_current(root, A, B)  # both flips done, killed before the log line
    note = repair_links(root)
    assert note is not None and "logged now" in note
    last = read_publish_log(root)[-1]
    assert (last.action, last.from_id, last.to_id) == ("repair", A, B)
    assert repair_links(root) is None  # agrees now


def test_links_that_agree_with_the_log_are_left_alone(
    root: Path, make_snapshot: MakeSnapshot
) -> None:
    make_snapshot(A)
    make_snapshot(B)
    publish(root, A)
    publish(root, B)
    before = log_bytes(root)
    assert repair_links(root) is None
    assert log_bytes(root) == before and (current_id(root), previous_id(root)) == (B, A)
