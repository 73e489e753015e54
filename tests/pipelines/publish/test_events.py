"""The publish log: one JSON line per move, in order; a line torn by a crash is skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pipelines.publish import PublishEvent, publish, read_publish_log, rollback
from snapsearch.format import layout
from tests.pipelines.publish.conftest import A, B, MakeSnapshot, RealSnapshots, clock, log_bytes


def test_publish_log_appends_events_in_order(
    root: Path, real_snapshots: RealSnapshots
) -> None:
    a, b = real_snapshots(2)
    publish(root, a, now=clock(datetime(2026, 1, 1, tzinfo=UTC)))
    publish(root, b, now=clock(datetime(2026, 1, 2, tzinfo=UTC)))
    rollback(root, now=clock(datetime(2026, 1, 3, tzinfo=UTC)))
    lines = [json.loads(x) for x in log_bytes(root).decode().splitlines()]
    assert [(x["action"], x["from"], x["to"]) for x in lines] == [
        ("publish", None, a),
        ("publish", a, b),
        ("rollback", b, a),
    ]
    assert lines[0]["gate_summary"] == {"passed": True, "failed": []}
    assert [e.at[:10] for e in read_publish_log(root)] == ["2026-01-01", "2026-01-02", "2026-01-03"]


def test_torn_log_line_is_skipped_and_closed(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    (root / layout.PUBLISH_LOG).write_bytes(b'{"at": "2026-')  # a crash mid-append
    publish(root, A)
    events = read_publish_log(root)
    assert [(e.action, e.to_id) for e in events] == [("publish", A)]


def test_naive_clock_is_taken_as_utc(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    event = publish(root, A, now=clock(datetime(2026, 1, 1, 8, 30)))
    assert event.at == "2026-01-01T08:30:00Z"


def test_event_round_trips_through_its_dict() -> None:
    event = PublishEvent("2026-01-01T00:00:00Z", "rollback", B, A, None, "rolled back")
    assert PublishEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_no_log_yet_is_empty(root: Path) -> None:
    assert read_publish_log(root) == []
