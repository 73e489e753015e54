"""The store's links: ``current`` and ``previous``, relative symlinks to snapshot ids.

The one place that reads or moves them; publish, rollback, transform, validate, serve, eval
and the CLI all come here.

- A link holds a bare snapshot id (relative, so the store can be moved or mounted elsewhere).
- A flip is atomic: a temp symlink is made next to the link and ``os.replace``d over it, then
  the directory is fsynced. ``move_current`` moves ``previous`` first and ``current`` last, so
  a crash at any point leaves ``current`` pointing at a published snapshot.
- Flips do no locking; publish and rollback hold the store lock around them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from . import faults, layout
from .errors import StoreError
from .hashing import fsync_dir

LINK_TMP_PREFIX = f"{layout.TMP_PREFIX}link-"  # temp symlinks made while flipping a link
LINKS = (layout.CURRENT, layout.PREVIOUS)


def read_link(root: Path, name: str) -> str | None:
    """The snapshot id ``root/name`` points at, None when absent; StoreError when not a link to
    a snapshot id."""
    link = root / name
    if not link.is_symlink():
        if link.exists():
            raise StoreError(
                f"{link} is not a symlink",
                fix=f"move it away, then `snapsearch rollback <id>` to recreate {name}",
            )
        return None
    target = os.readlink(link)
    if os.path.isabs(target) or not layout.is_snapshot_id(target):
        raise StoreError(
            f"{link} points at {target!r}, not at a snapshot id in {root}",
            fix=f"`snapsearch rollback <id>` to point {name} at a snapshot",
        )
    return target


def current_id(root: Path) -> str | None:
    """The id `current` points at, or None when nothing was published yet."""
    return read_link(root, layout.CURRENT)


def previous_id(root: Path) -> str | None:
    """The id `previous` points at, or None."""
    return read_link(root, layout.PREVIOUS)


def current_dir(root: Path) -> Path | None:
    """The directory ``<root>/current`` resolves to, or None when it does not exist."""
    link = root / layout.CURRENT
    return link.resolve() if link.exists() else None


def resolve_current(root: Path) -> Path:
    """The snapshot directory ``<root>/current`` points at; StoreError when there is none."""
    path = current_dir(root)
    if path is None:
        raise StoreError(
            f"no published snapshot: {root / layout.CURRENT} does not exist",
            fix="build and publish one with `snapsearch run`",
        )
    return path


def flip(root: Path, name: str, snapshot_id: str) -> None:
    """Point ``root/name`` at ``snapshot_id`` atomically (temp symlink + os.replace + fsync)."""
    if name not in LINKS:
        raise ValueError(f"{name!r} is not a store link; expected one of {', '.join(LINKS)}")
    tmp = root / f"{LINK_TMP_PREFIX}{name}-{secrets.token_hex(6)}"
    os.symlink(snapshot_id, tmp)
    try:
        os.replace(tmp, root / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(root)


def move_current(root: Path, old: str | None, new: str) -> None:
    """previous := ``old`` (the current id, if any and different), then current := ``new``."""
    if old is not None and old != new:
        flip(root, layout.PREVIOUS, old)
        faults.point("links.previous_flipped")  # previous == current until the next flip
    flip(root, layout.CURRENT, new)
    faults.point("links.current_flipped")


def is_flip_leftover(path: Path) -> bool:
    """A temp symlink left by a flip that was interrupted (only flips make these)."""
    return path.is_symlink() and path.name.startswith(LINK_TMP_PREFIX)
