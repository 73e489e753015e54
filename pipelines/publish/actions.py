"""Publish and rollback: move ``current`` (and ``previous``) under the store lock, log it.

Only a snapshot whose gate report passed and is bound to its manifest can become current
(``eligibility``); the links move atomically (``snapsearch.format.links``); every move appends
one event to the publish log (``events``). Both first repair what a killed move left
(``repair``).

Publish belongs to the run in progress (it holds the run lock) and refuses to publish over a
``current`` that moved since the run took its baseline (an operator's rollback wins over a
nightly run) or that is newer than the candidate. Rollback does not need the run lock: it
verifies its target in full first (files, checksums, manifest, gates), then moves the links
under the store lock if nothing moved meanwhile; it refuses a target that is already current.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from snapsearch.format import faults, layout, links
from snapsearch.format.errors import StoreError
from snapsearch.format.verify import verify_snapshot

from .eligibility import passed_report, snapshot_dir
from .events import Now, PublishEvent, append_event, stamp
from .lock import store_lock
from .repair import repair_links
from .retention import check_keep, retain
from .runlock import run_lock


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Final = _Any()  # publish(expect_current=ANY): no baseline to hold current to


def publish(
    root: Path, snapshot_id: str, *, retention: int = 5, now: Now | None = None,
    expect_current: str | None | _Any = ANY,
) -> PublishEvent:
    """Make ``snapshot_id`` current (its gates must have passed), log it, apply retention.

    ``expect_current``: the id ``current`` had when the run took its baseline (None: nothing
    was published); publish refuses when it moved since. Publishing the snapshot that is
    already current changes nothing and returns an event with note "already current" (not
    logged).
    """
    check_keep(retention)
    with run_lock(root), store_lock(root):
        repair_links(root, now=now)
        report = passed_report(root, snapshot_id)
        old = links.current_id(root)
        summary = report.summary()
        if old == snapshot_id:
            return PublishEvent(stamp(now), "publish", old, snapshot_id, summary, "already current")
        if not isinstance(expect_current, _Any) and old != expect_current:
            raise StoreError(
                f"not publishing {snapshot_id}: current moved from {expect_current or 'none'} "
                f"to {old or 'none'} while this run built and validated it (a rollback?)",
                fix=f"to publish it anyway: snapsearch rollback {snapshot_id}; or run again",
            )
        if old is not None and layout.parse_snapshot_id(snapshot_id) < layout.parse_snapshot_id(
            old
        ):
            raise StoreError(
                f"not publishing {snapshot_id}: it is older than current {old}",
                fix=f"to make an older snapshot current: snapsearch rollback {snapshot_id}",
            )
        faults.point("publish.locked")
        links.move_current(root, old, snapshot_id)
        event = PublishEvent(stamp(now), "publish", old, snapshot_id, summary, "published")
        append_event(root, event)
        faults.point("publish.logged")
        retain(root, retention)
    return event


def _target(root: Path, to: str | None) -> tuple[str | None, str, str | None]:
    """(current, the rollback target, what repair did); StoreError for a no-op or no target.
    The caller holds the store lock."""
    repaired = repair_links(root)
    old = links.current_id(root)
    target = to if to is not None else links.previous_id(root)
    if target is None:
        raise StoreError(
            f"no previous snapshot in {root} to roll back to",
            fix="name a snapshot: snapsearch status lists them",
        )
    if target == old:
        why = (
            "previous points at current too (a publish or rollback was killed between its two "
            "link flips, and the publish log cannot prove what previous was)"
            if to is None else "it is already current"
        )
        raise StoreError(
            f"refusing to roll back to {target}: {why}; nothing was changed",
            fix="name another snapshot: snapsearch status lists them",
        )
    snapshot_dir(root, target)
    return old, target, repaired


def rollback(root: Path, to: str | None = None, *, now: Now | None = None) -> PublishEvent:
    """Point current at previous (or at the named snapshot); the old current becomes previous.

    The target is verified in full first (IntegrityError/ManifestError/GateError when it is
    not sound). Rolling back twice returns to where it started. A target that is already
    current is refused (StoreError), as is a rollback while current moves.
    """
    with store_lock(root):
        old, target, repaired = _target(root, to)
    passed_report(root, target)
    verify_snapshot(root / target, checksums=True)  # outside the lock: it reads every byte
    with store_lock(root):
        if links.current_id(root) != old:
            raise StoreError(
                f"current moved while rollback verified {target}; nothing was changed",
                fix="see snapsearch status, then roll back again",
            )
        summary = passed_report(root, target).summary()  # still there, still bound
        faults.point("rollback.locked")
        links.move_current(root, old, target)
        note = "rolled back to previous" if to is None else f"rolled back to {target}"
        if repaired:
            note += f" ({repaired})"
        event = PublishEvent(stamp(now), "rollback", old, target, summary, note)
        append_event(root, event)
        faults.point("rollback.logged")
    return event
