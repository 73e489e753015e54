"""What the store holds: current, previous, every snapshot (size, gates) and recent events."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from snapsearch.format import layout, links
from snapsearch.format.errors import GateError, SnapshotError
from snapsearch.format.gates import read_gate_report
from snapsearch.format.manifest import read_manifest

from .events import PublishEvent, read_publish_log
from .runlock import holder, run_in_progress


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
    run: dict[str, Any] | None = None  # the run in progress (pid, run, since), if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "current": self.current,
            "previous": self.previous,
            "snapshots": [{**asdict(s), "path": str(s.path)} for s in self.snapshots],
            "events": [e.to_dict() for e in self.events],
            "run": self.run,
        }


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
    except SnapshotError:  # unreadable, or its seal is broken
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
    current, previous = links.current_id(root), links.previous_id(root)
    snapshots = [_info(p, current, previous) for p in reversed(layout.list_snapshot_dirs(root))]
    tail = read_publish_log(root)[-events:] if events > 0 else []
    run = (holder(root) or {"pid": None}) if root.is_dir() and run_in_progress(root) else None
    return StoreStatus(root, current, previous, snapshots, tail, run)
