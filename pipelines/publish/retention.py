"""Retention: keep the newest snapshots plus the targets of current/previous; remove leftovers.

A snapshot dir is renamed away before it is removed, so no half-removed snapshot is ever seen
under its id. Nothing that is neither a snapshot dir nor a leftover is touched.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from pathlib import Path

from snapsearch.format import layout, links
from snapsearch.format.hashing import fsync_dir

from .lock import store_lock

log = logging.getLogger(__name__)

LEFTOVER_AGE_S = 3600.0  # a `.tmp-*` build dir untouched this long is a failed build's leftover
TRASH_PREFIX = f"{layout.TMP_PREFIX}trash-"  # snapshot dirs renamed away before removal


def check_keep(keep: int) -> None:
    if keep < 0:
        raise ValueError(f"retention must be >= 0, got {keep}")


def _remove_dir(root: Path, path: Path) -> bool:
    """Remove a snapshot or leftover dir: rename it away first so no half-removed snapshot shows."""
    try:
        if not path.name.startswith(layout.TMP_PREFIX):
            trash = root / f"{TRASH_PREFIX}{path.name}-{secrets.token_hex(4)}"
            os.rename(path, trash)
            path = trash
        shutil.rmtree(path)
    except OSError as exc:
        log.warning("retention could not remove %s: %s", path, exc)
        return False
    return True


def _last_touched(path: Path) -> float:
    """The newest mtime of a directory and everything in it (a build writes inside for long)."""
    newest = path.stat().st_mtime
    for dirpath, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                pass
    return newest


def _leftovers(root: Path) -> list[Path]:
    """Temp links of interrupted flips, trash, and `.tmp-*` build dirs idle for an hour."""
    found: list[Path] = []
    cutoff = time.time() - LEFTOVER_AGE_S
    for p in sorted(root.glob(f"{layout.TMP_PREFIX}*")):
        if p.is_symlink():
            if links.is_flip_leftover(p):  # only flips make these, and we hold the lock
                found.append(p)
        elif p.is_dir() and (p.name.startswith(TRASH_PREFIX) or _last_touched(p) < cutoff):
            found.append(p)
    return found


def retain(root: Path, keep: int) -> list[str]:
    """apply_retention's body; the caller holds the store lock."""
    check_keep(keep)
    pinned = {links.current_id(root), links.previous_id(root)}
    snapshots = layout.list_snapshot_dirs(root)
    old = snapshots[: max(len(snapshots) - keep, 0)]
    removed: list[str] = []
    for path in old:
        if path.name not in pinned and _remove_dir(root, path):
            removed.append(path.name)
    for path in _leftovers(root):
        if path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path.name)
        elif _remove_dir(root, path):
            removed.append(path.name)
    if removed:
        fsync_dir(root)
    return removed


def apply_retention(root: Path, keep: int) -> list[str]:
    """Keep the newest ``keep`` snapshots plus current/previous; remove old `.tmp-*` leftovers.

    Returns the names removed. Nothing that is not a snapshot dir or a leftover is touched.
    """
    with store_lock(root):
        return retain(root, keep)
