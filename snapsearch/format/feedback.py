"""The feedback log: ``<root>/_feedback/feedback.jsonl``, one JSON event per line, append-only.

The server appends one event per ``POST /v1/feedback`` (one ``write`` of one whole line on a
file opened ``O_APPEND``: lines from several workers never interleave), up to a size bound; the
snapshots stay read-only. A build reads the complete lines present when it starts, with the
sha256 of exactly those bytes (recorded in its manifest), and turns them into priors.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import layout
from .errors import SnapshotError

Outcome = Literal["positive", "negative"]
SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_ID_CHARS = 200
MAX_WEIGHT = 5.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class FeedbackLogFull(SnapshotError):
    """The log reached its size bound."""


class FeedbackEvent(BaseModel):
    """One outcome reported against a record, in a session."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1, max_length=128)
    collection: str = Field(min_length=1, max_length=40)
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    outcome: Outcome
    weight: float = Field(default=1.0, gt=0.0, le=MAX_WEIGHT)
    at: str | None = Field(default=None, max_length=40, description="when it was received (UTC)")
    snapshot_id: str | None = Field(default=None, max_length=64)

    @field_validator("session_id")
    @classmethod
    def _session(cls, v: str) -> str:
        if not SESSION_ID.match(v):
            raise ValueError("1 to 128 letters, digits or '._:-'")
        return v

    @property
    def sign(self) -> int:
        return 1 if self.outcome == "positive" else -1

    def line(self) -> bytes:
        data = self.model_dump(mode="json", exclude_none=True)
        return (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                + "\n").encode("utf-8")


def append_event(root: Path, event: FeedbackEvent, *, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Append ``event`` to the store's log (created on first use), durably; returns the log's
    size after it. Raises FeedbackLogFull when the line would take the log past ``max_bytes``."""
    path = layout.feedback_log_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = event.line()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size + len(line) > max_bytes:
            raise FeedbackLogFull(
                f"the feedback log {path} holds {size} bytes, its bound is {max_bytes}",
                fix="a build reads the log; archive it (move it aside) after a build, or raise "
                    "SNAPSEARCH_FEEDBACK_MAX_BYTES",
            )
        written = os.write(fd, line)
        if written != len(line):  # a regular file takes the whole line or fails
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
        return size + written
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LogRead:
    """The complete lines of the log at one moment: their events, bytes and sha256."""

    events: list[FeedbackEvent]
    bytes: int
    sha256: str
    invalid: int = 0  # lines that are no valid event (skipped)
    first_invalid: list[int] = field(default_factory=list)  # their line numbers (a few)

    @property
    def empty(self) -> bool:
        return not self.events


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def read_log(root: Path) -> LogRead:
    """Every complete line now in the log (a line still being written is left for the next
    build); {} of events when there is no log."""
    path = layout.feedback_log_path(root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LogRead([], 0, EMPTY_SHA256)
    end = data.rfind(b"\n") + 1
    data = data[:end]
    events: list[FeedbackEvent] = []
    bad: list[int] = []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            events.append(FeedbackEvent.model_validate_json(raw))
        except ValidationError:
            bad.append(n)
    return LogRead(events, len(data), hashlib.sha256(data).hexdigest(), len(bad), bad[:5])
