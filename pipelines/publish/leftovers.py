"""Leftovers of killed processes, removed by the next holder of the run lock.

Everything below is unfinished work; only the holder of the run lock writes into the store, so
whoever holds it (and is not writing them itself: it calls this before it starts) knows every
one of them belongs to a process that died:

- ``.tmp-*`` entries at the root: build directories of killed builds, snapshot dirs renamed
  away by an interrupted retention, temp links of an interrupted flip;
- ``.tmp-*`` and ``*.tmp`` files in the fetch cache and in snapshot directories;
- in ``_gates/``: a gate report's temp file never renamed, and reports whose snapshot directory
  is gone (``snapsearch.format.gates.gate_leftovers``);
- snapshot directories that never got a gate report for their bytes (killed between the rename
  and the gates) and that neither ``current`` nor ``previous`` points at: nothing may publish
  them, nothing else will ever complete them.

Nothing else is touched: not the links, not a snapshot with a gate report (passed or failed:
retention counts those), not files we do not know.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path

from snapsearch.format import faults, layout, links
from snapsearch.format.errors import GateError
from snapsearch.format.gates import gate_leftovers, read_gate_report
from snapsearch.format.hashing import fsync_dir

from .runlock import held_here

log = logging.getLogger(__name__)

TRASH_PREFIX = f"{layout.TMP_PREFIX}trash-"  # snapshot dirs renamed away before removal


def remove_dir(root: Path, path: Path) -> bool:
    """Remove a snapshot or leftover dir: rename it away first so no half-removed snapshot shows
    under its id."""
    try:
        if not path.name.startswith(layout.TMP_PREFIX):
            trash = root / f"{TRASH_PREFIX}{path.name}-{secrets.token_hex(4)}"
            os.rename(path, trash)
            faults.point("retention.renamed")
            path = trash
        shutil.rmtree(path)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return False
    return True


def _never_gated(path: Path) -> bool:
    """No gate report was ever written for these manifest bytes."""
    try:
        return read_gate_report(path) is None
    except GateError:  # a report that cannot be read: not ours to judge here (retention counts it)
        return False


def _temp_files(directory: Path) -> list[Path]:
    found = []
    for dirpath, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            if layout.is_temp_name(name):
                found.append(Path(dirpath) / name)
        dirs[:] = [d for d in dirs if not layout.is_temp_name(d)]
    return found


def find_leftovers(root: Path) -> list[Path]:
    """Every leftover of a killed process in ``root`` (see the module's words), sorted."""
    pinned = {links.current_id(root), links.previous_id(root)}
    found: list[Path] = [p for p in root.iterdir() if p.name.startswith(layout.TMP_PREFIX)]
    found += _temp_files(layout.raw_dir(root)) if layout.raw_dir(root).is_dir() else []
    found += gate_leftovers(root)
    for snap in layout.list_snapshot_dirs(root):
        if snap.name not in pinned and _never_gated(snap):
            found.append(snap)
        else:
            found += _temp_files(snap)
    return sorted(found)


def clean_leftovers(root: Path) -> list[str]:
    """Remove every leftover (``find_leftovers``); returns their paths relative to ``root``.

    The caller holds the run lock: that is what proves them dead. Without it, nothing is removed.
    """
    if not held_here(root):
        raise RuntimeError("clean_leftovers needs the run lock (runlock.acquire) held")
    removed: list[str] = []
    for path in find_leftovers(root):
        rel = str(path.relative_to(root))
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
            removed.append(rel)
        elif remove_dir(root, path):
            removed.append(rel)
    if removed:
        fsync_dir(root)
        log.info("removed leftovers of killed processes: %s", ", ".join(removed))
    return removed
