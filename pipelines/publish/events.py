"""The publish log: one JSON line per publish, rollback or repair (``repair``), appended with
``O_APPEND`` + fsync."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from snapsearch.format import layout
from snapsearch.format.hashing import fsync_dir

log = logging.getLogger(__name__)

Action = Literal["publish", "rollback", "repair"]
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


def stamp(now: Now | None) -> str:
    """``now()`` (default: the wall clock) as ISO-8601 UTC seconds with a ``Z``."""
    at = now() if now is not None else datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def append_event(root: Path, event: PublishEvent) -> None:
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
