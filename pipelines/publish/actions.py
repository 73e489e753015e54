"""Publish and rollback: move ``current`` (and ``previous``) under the store lock, log it.

Only a snapshot whose gate report passed and is bound to its manifest can become current
(``eligibility``); the links move atomically (``snapsearch.format.links``); every move appends
one event to the publish log (``events``).
"""

from __future__ import annotations

from pathlib import Path

from snapsearch.format import links
from snapsearch.format.errors import StoreError

from .eligibility import passed_report
from .events import Now, PublishEvent, append_event, stamp
from .lock import store_lock
from .retention import check_keep, retain


def publish(
    root: Path, snapshot_id: str, *, retention: int = 5, now: Now | None = None
) -> PublishEvent:
    """Make ``snapshot_id`` current (its gates must have passed), log it, apply retention.

    Publishing the snapshot that is already current changes nothing and returns an event
    with note "already current" (not logged).
    """
    check_keep(retention)
    with store_lock(root):
        report = passed_report(root, snapshot_id)
        old = links.current_id(root)
        summary = report.summary()
        if old == snapshot_id:
            return PublishEvent(stamp(now), "publish", old, snapshot_id, summary, "already current")
        links.move_current(root, old, snapshot_id)
        event = PublishEvent(stamp(now), "publish", old, snapshot_id, summary, "published")
        append_event(root, event)
        retain(root, retention)
    return event


def rollback(root: Path, to: str | None = None, *, now: Now | None = None) -> PublishEvent:
    """Point current at previous (or at the named snapshot); the old current becomes previous.

    Rolling back twice returns to where it started. The target's gates must have passed.
    """
    with store_lock(root):
        old = links.current_id(root)
        target = to if to is not None else links.previous_id(root)
        if target is None:
            raise StoreError(
                f"no previous snapshot in {root} to roll back to",
                fix="name a snapshot: snapsearch status lists them",
            )
        summary = passed_report(root, target).summary()
        if old == target:
            return PublishEvent(stamp(now), "rollback", old, target, summary, "already current")
        links.move_current(root, old, target)
        note = "rolled back to previous" if to is None else f"rolled back to {target}"
        event = PublishEvent(stamp(now), "rollback", old, target, summary, note)
        append_event(root, event)
    return event
