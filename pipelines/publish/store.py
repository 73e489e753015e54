"""The store's moving parts: the ``current``/``previous`` links, the publish log, the lock.

Plain functions, no dagster. Every name comes from ``snapsearch.format.layout``.

- The links move through ``snapsearch.format.links`` (atomic flips, ``previous`` first and
  ``current`` last, so a crash at any point leaves ``current`` pointing at a published snapshot).
- Only a snapshot whose gate report passed and is bound to its manifest can become current.
- Every publish and rollback holds ``fcntl.flock`` on the lock file and appends one JSON line
  to the publish log (``O_APPEND`` + fsync).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from snapsearch.format import layout, links
from snapsearch.format.errors import GateError, ManifestError, StoreError
from snapsearch.format.gates import GateReport, read_gate_report
from snapsearch.format.hashing import fsync_dir
from snapsearch.format.links import current_id, previous_id
from snapsearch.format.manifest import read_manifest

log = logging.getLogger(__name__)

LOCK_WAIT_S = 5.0  # how long publish/rollback wait for another holder of the lock
LEFTOVER_AGE_S = 3600.0  # a `.tmp-*` build dir untouched this long is a failed build's leftover
_TRASH_TMP = f"{layout.TMP_PREFIX}trash-"  # snapshot dirs renamed away before removal

Action = Literal["publish", "rollback"]
Now = Callable[[], datetime]


@dataclass(frozen=True)
class PublishEvent:
    """One line of the publish log."""

    at: str
    action: Action
    from_id: str | None
    to_id: str
    gate_summary: dict[str, Any] | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "action": self.action,
            "from": self.from_id,
            "to": self.to_id,
            "gate_summary": self.gate_summary,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PublishEvent:
        return cls(
            at=str(data["at"]),
            action=data["action"],
            from_id=data.get("from"),
            to_id=str(data["to"]),
            gate_summary=data.get("gate_summary"),
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    path: Path
    built_at: str | None
    bytes: int
    gates_passed: bool | None
    is_current: bool
    is_previous: bool


@dataclass(frozen=True)
class StoreStatus:
    root: Path
    current: str | None
    previous: str | None
    snapshots: list[SnapshotInfo]  # newest first
    events: list[PublishEvent]  # the last N, oldest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "current": self.current,
            "previous": self.previous,
            "snapshots": [{**asdict(s), "path": str(s.path)} for s in self.snapshots],
            "events": [e.to_dict() for e in self.events],
        }


# -- lock ----------------------------------------------------------------------------------


@contextmanager
def _store_lock(root: Path) -> Iterator[None]:
    """Hold ``flock`` on the store's lock file; wait up to LOCK_WAIT_S for another holder."""
    if not root.is_dir():
        raise StoreError(
            f"store root {root} does not exist", fix="build a snapshot first: snapsearch run"
        )
    fd = os.open(root / layout.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another publish is in progress in {root} (lock {layout.LOCK} is held)",
                        fix="wait for it to finish and try again",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# -- checks --------------------------------------------------------------------------------


def _snapshot_dir(root: Path, snapshot_id: str) -> Path:
    """The directory of an existing snapshot, or StoreError."""
    path = root / snapshot_id
    if (
        not layout.is_snapshot_id(snapshot_id)
        or not path.is_dir()
        or path.is_symlink()
        or not (path / layout.MANIFEST).is_file()
    ):
        raise StoreError(
            f"{snapshot_id!r} is not a snapshot in {root}",
            fix="name a snapshot: snapsearch status lists them",
        )
    return path


def _passed_report(root: Path, snapshot_id: str) -> GateReport:
    """The snapshot's gate report if it passed and is bound to its manifest, else GateError."""
    path = _snapshot_dir(root, snapshot_id)
    report = read_gate_report(path)
    if report is None:
        if (path / layout.GATES).is_file():
            raise GateError(
                f"refusing {snapshot_id}: its gate report was written for other manifest bytes",
                fix="run the validate stage on this snapshot again",
            )
        raise GateError(
            f"refusing {snapshot_id}: its gates never ran ({layout.GATES} is missing)",
            fix="run the validate stage before publishing",
        )
    if not report.passed:
        failed = sorted(
            n for n, g in report.gates.items() if not g.passed and g.severity == "ERROR"
        )
        raise GateError(
            f"refusing {snapshot_id}: gates failed: {', '.join(failed)}",
            fix="fix the cause and rebuild; the current snapshot stays published",
        )
    return report


# -- publish log ---------------------------------------------------------------------------


def _stamp(now: Now | None) -> str:
    at = now() if now is not None else datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _append_log(root: Path, event: PublishEvent) -> None:
    """Append one JSON line (O_APPEND + fsync); a torn last line from a crash is closed first."""
    path = root / layout.PUBLISH_LOG
    created = not path.exists()
    data = (json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(root)


def read_publish_log(root: Path) -> list[PublishEvent]:
    """Every event in the publish log, oldest first; lines torn by a crash are skipped."""
    path = root / layout.PUBLISH_LOG
    if not path.is_file():
        return []
    events: list[PublishEvent] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(PublishEvent.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("%s line %d is not a publish event; skipped", path, number)
    return events


# -- publish and rollback ------------------------------------------------------------------


def publish(
    root: Path, snapshot_id: str, *, retention: int = 5, now: Now | None = None
) -> PublishEvent:
    """Make ``snapshot_id`` current (its gates must have passed), log it, apply retention.

    Publishing the snapshot that is already current changes nothing and returns an event
    with note "already current" (not logged).
    """
    _check_keep(retention)
    with _store_lock(root):
        report = _passed_report(root, snapshot_id)
        old = current_id(root)
        summary = report.summary()
        if old == snapshot_id:
            return PublishEvent(
                _stamp(now), "publish", old, snapshot_id, summary, "already current"
            )
        links.move_current(root, old, snapshot_id)
        event = PublishEvent(_stamp(now), "publish", old, snapshot_id, summary, "published")
        _append_log(root, event)
        _retain(root, retention)
    return event


def rollback(root: Path, to: str | None = None, *, now: Now | None = None) -> PublishEvent:
    """Point current at previous (or at the named snapshot); the old current becomes previous.

    Rolling back twice returns to where it started. The target's gates must have passed.
    """
    with _store_lock(root):
        old = current_id(root)
        target = to if to is not None else previous_id(root)
        if target is None:
            raise StoreError(
                f"no previous snapshot in {root} to roll back to",
                fix="name a snapshot: snapsearch status lists them",
            )
        summary = _passed_report(root, target).summary()
        if old == target:
            return PublishEvent(_stamp(now), "rollback", old, target, summary, "already current")
        links.move_current(root, old, target)
        note = "rolled back to previous" if to is None else f"rolled back to {target}"
        event = PublishEvent(_stamp(now), "rollback", old, target, summary, note)
        _append_log(root, event)
    return event


# -- retention -----------------------------------------------------------------------------


def _remove_dir(root: Path, path: Path) -> bool:
    """Remove a snapshot or leftover dir: rename it away first so no half-removed snapshot shows."""
    try:
        if not path.name.startswith(layout.TMP_PREFIX):
            trash = root / f"{_TRASH_TMP}{path.name}-{secrets.token_hex(4)}"
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
        elif p.is_dir() and (p.name.startswith(_TRASH_TMP) or _last_touched(p) < cutoff):
            found.append(p)
    return found


def _check_keep(keep: int) -> None:
    if keep < 0:
        raise ValueError(f"retention must be >= 0, got {keep}")


def _retain(root: Path, keep: int) -> list[str]:
    """apply_retention's body; the caller holds the lock."""
    _check_keep(keep)
    pinned = {current_id(root), previous_id(root)}
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
    with _store_lock(root):
        return _retain(root, keep)


# -- status --------------------------------------------------------------------------------


def _dir_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _info(path: Path, current: str | None, previous: str | None) -> SnapshotInfo:
    try:
        built_at: str | None = read_manifest(path).built_at
    except ManifestError:
        built_at = None
    try:
        report = read_gate_report(path)
        gates_passed = None if report is None else report.passed
    except (GateError, OSError):
        gates_passed = None
    return SnapshotInfo(
        snapshot_id=path.name,
        path=path,
        built_at=built_at,
        bytes=_dir_bytes(path),
        gates_passed=gates_passed,
        is_current=path.name == current,
        is_previous=path.name == previous,
    )


def store_status(root: Path, *, events: int = 10) -> StoreStatus:
    """Current, previous, every snapshot (newest first) and the last ``events`` log events."""
    current, previous = current_id(root), previous_id(root)
    snapshots = [_info(p, current, previous) for p in reversed(layout.list_snapshot_dirs(root))]
    tail = read_publish_log(root)[-events:] if events > 0 else []
    return StoreStatus(root, current, previous, snapshots, tail)
