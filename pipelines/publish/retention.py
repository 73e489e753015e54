"""Retention: keep the newest judged snapshots plus the targets of current/previous.

A snapshot counts once its gates have judged it (a gate report for its bytes, passed or
failed: a failed one is kept for inspection like any other). One without a report is either
being validated by the run in progress or a leftover of a killed one: retention never touches
or counts it (``leftovers`` removes the dead ones). Retention runs under the run lock (at the
end of a run's publish, or on its own when no run is in progress) and the store lock, so it
never races a build, a validation, a publish or a rollback. A snapshot dir is renamed away
before it is removed, so no half-removed snapshot is ever seen under its id. Nothing that is
not a snapshot dir or a leftover is touched.
"""

from __future__ import annotations

import logging
from pathlib import Path

from snapsearch.format import faults, layout, links
from snapsearch.format.errors import GateError
from snapsearch.format.gates import read_gate_report, remove_gate_report
from snapsearch.format.hashing import fsync_dir

from .leftovers import clean_leftovers, remove_dir
from .lock import store_lock
from .runlock import held_here, run_lock

log = logging.getLogger(__name__)


def check_keep(keep: int) -> None:
    if keep < 0:
        raise ValueError(f"retention must be >= 0, got {keep}")


def _judged(path: Path) -> bool:
    try:
        return read_gate_report(path) is not None
    except GateError:  # a report that cannot be read: judged (and unpublishable)
        return True


def retain(root: Path, keep: int) -> list[str]:
    """apply_retention's body; the caller holds the run lock and the store lock."""
    check_keep(keep)
    if not held_here(root):
        raise RuntimeError("retention needs the run lock (runlock.acquire) held")
    pinned = {links.current_id(root), links.previous_id(root)}
    judged = [p for p in layout.list_snapshot_dirs(root) if _judged(p)]
    old = judged[: max(len(judged) - keep, 0)]
    removed: list[str] = []
    for path in old:
        if path.name not in pinned and remove_dir(root, path):
            remove_gate_report(path)  # its report beside it goes with it
            removed.append(path.name)
            faults.point("retention.removed")
    if removed:
        fsync_dir(root)
    return removed + clean_leftovers(root)


def apply_retention(root: Path, keep: int) -> list[str]:
    """Keep the newest ``keep`` judged snapshots plus current/previous; remove leftovers of
    killed processes. StoreError at once when another run is in progress (its own publish
    applies retention when it ends).

    Returns the names removed (leftovers inside the store as paths relative to it).
    """
    check_keep(keep)
    with run_lock(root), store_lock(root):
        return retain(root, keep)
