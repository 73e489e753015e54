"""The feedback log: append-only, one whole line per event, bounded; a build reads the complete
lines with their sha256; invalid lines are skipped and counted; the priors file."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from snapsearch.format import layout
from snapsearch.format.errors import ManifestError
from snapsearch.format.feedback import (
    EMPTY_SHA256,
    FeedbackEvent,
    FeedbackLogFull,
    append_event,
    read_log,
)
from snapsearch.format.priors import read_priors, write_priors


def ev(i: int = 0, outcome: str = "positive", **kw: object) -> FeedbackEvent:
    return FeedbackEvent(session_id=f"s{i}", collection="parts", id=f"C{i}",
                         outcome=outcome, **kw)  # type: ignore[arg-type]


def test_no_log_reads_as_empty(tmp_path: Path) -> None:
    read = read_log(tmp_path)
    assert read.empty and read.bytes == 0 and read.sha256 == EMPTY_SHA256


def test_append_then_read(tmp_path: Path) -> None:
    size = append_event(tmp_path, ev(1))
    size = append_event(tmp_path, ev(2, "negative", weight=2.5))
    path = layout.feedback_log_path(tmp_path)
    data = path.read_bytes()
    assert size == len(data) and data.count(b"\n") == 2
    read = read_log(tmp_path)
    assert [(e.id, e.sign * e.weight) for e in read.events] == [("C1", 1.0), ("C2", -2.5)]
    assert read.sha256 == hashlib.sha256(data).hexdigest() and read.bytes == len(data)


def test_a_partial_last_line_is_left_for_the_next_build(tmp_path: Path) -> None:
    append_event(tmp_path, ev(1))
    path = layout.feedback_log_path(tmp_path)
    whole = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"session_id": "s9", "collec')
    read = read_log(tmp_path)
    assert len(read.events) == 1 and read.bytes == len(whole)
    assert read.sha256 == hashlib.sha256(whole).hexdigest()


def test_invalid_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    append_event(tmp_path, ev(1))
    with open(layout.feedback_log_path(tmp_path), "ab") as f:
        f.write(b"not json\n" + json.dumps({"session_id": "x"}).encode() + b"\n")
    append_event(tmp_path, ev(2))
    read = read_log(tmp_path)
    assert len(read.events) == 2 and read.invalid == 2 and read.first_invalid == [2, 3]


def test_the_log_is_bounded(tmp_path: Path) -> None:
    one = len(ev(1).line())
    append_event(tmp_path, ev(1), max_bytes=2 * one)
    append_event(tmp_path, ev(1), max_bytes=2 * one)
    with pytest.raises(FeedbackLogFull, match="bound"):
        append_event(tmp_path, ev(1), max_bytes=2 * one)
    assert len(read_log(tmp_path).events) == 2  # nothing half-written


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    def many(t: int) -> None:
        for i in range(50):
            append_event(tmp_path, ev(t * 100 + i, weight=1.5))

    threads = [threading.Thread(target=many, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read = read_log(tmp_path)
    assert len(read.events) == 200 and read.invalid == 0


@pytest.mark.parametrize("bad", [
    {"session_id": "a b"}, {"session_id": ""}, {"outcome": "maybe"}, {"weight": 0},
    {"weight": 6}, {"id": ""}, {"colour": "red"},
])
def test_events_are_validated(bad: dict[str, object]) -> None:
    base = {"session_id": "s", "collection": "parts", "id": "C1", "outcome": "positive"}
    with pytest.raises(ValidationError):
        FeedbackEvent.model_validate({**base, **bad})


def test_priors_file_round_trip(tmp_path: Path, built) -> None:  # type: ignore[no-untyped-def]
    from snapsearch.format.manifest import PriorsInfo

    path = write_priors(tmp_path, {"parts": {"C2": -0.5, "C1": 0.25}})
    assert path.read_text() == '{"parts":{"C1":0.25,"C2":-0.5}}\n'
    manifest = built.manifest
    assert read_priors(tmp_path, manifest) == {}  # no priors in the manifest: none read
    info = PriorsInfo(log_sha256="x", log_bytes=1, events=1, events_used=1,
                      records={"parts": 2}, collections={"parts": 0.1}, max_boost=0.05)
    with_priors = manifest.model_copy(update={"priors": info})
    assert read_priors(tmp_path, with_priors) == {"parts": {"C1": 0.25, "C2": -0.5}}
    path.write_text("{")
    with pytest.raises(ManifestError, match="unreadable"):
        read_priors(tmp_path, with_priors)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        write_priors(tmp_path, {"parts": {"C1": 1.5}})


def test_a_manifest_without_the_new_fields_writes_none_of_them(built) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(built.manifest.to_json())
    assert not {"exclusions", "priors", "collection_weights"} & set(data)
