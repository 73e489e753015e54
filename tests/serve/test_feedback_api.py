"""POST /v1/feedback: validated, appended to the store's append-only log (the snapshot stays
read-only), bounded, session_id in the access log; every error in the one shape."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from snapsearch.format import layout
from snapsearch.format.feedback import read_log
from snapsearch.format.hashing import sha256_file
from tests.serve.conftest import make_app
from tests.serve.test_errors import check_shape
from tests.serve.twostore import two_collection_store

GOOD = {"session_id": "sess-1", "id": "C25744", "collection": "parts", "outcome": "positive"}


@pytest.fixture
def two(tmp_path: Path) -> Path:
    return two_collection_store(tmp_path)


def test_feedback_is_appended(two: Path, caplog: pytest.LogCaptureFixture) -> None:
    snap_dir = (two / layout.CURRENT).resolve()
    before = {p.name: sha256_file(p) for p in snap_dir.iterdir()}
    with TestClient(make_app(two)) as c, caplog.at_level(logging.INFO, logger="snapsearch.access"):
        r = c.post("/v1/feedback", json=GOOD)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["accepted"] and body["weight"] == 1.0 and body["snapshot_id"] == snap_dir.name
        r = c.post("/v1/feedback", json={**GOOD, "id": "n2", "collection": "notes",
                                         "outcome": "negative", "weight": 2})
        assert r.status_code == 202
    events = read_log(two).events
    assert [(e.collection, e.id, e.sign * e.weight) for e in events] == [
        ("parts", "C25744", 1.0), ("notes", "n2", -2.0)]
    assert events[0].snapshot_id == snap_dir.name and events[0].at
    assert {p.name: sha256_file(p) for p in snap_dir.iterdir()} == before  # read-only
    fields = [x.fields for x in caplog.records if x.name == "snapsearch.access"]
    assert fields[0]["session_id"] == "sess-1" and fields[0]["outcome"] == "positive"


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({**GOOD, "outcome": "meh"}, 422, "invalid_request", "outcome"),
    ({**GOOD, "weight": 0}, 422, "invalid_request", "weight"),
    ({**GOOD, "weight": 6}, 422, "invalid_request", "weight"),
    ({**GOOD, "session_id": "a b"}, 422, "invalid_request", "session_id"),
    ({k: v for k, v in GOOD.items() if k != "session_id"}, 422, "invalid_request", "session_id"),
    ({**GOOD, "extra": 1}, 422, "invalid_request", "extra"),
    ({**GOOD, "id": "C0"}, 404, "not_found", "id"),
    ({**GOOD, "collection": "nope"}, 404, "unknown_collection", "collection"),
    ({**GOOD, "id": "x" * 201}, 422, "invalid_request", "id"),
])
def test_feedback_errors(two: Path, body: object, status: int, code: str, field: str) -> None:
    with TestClient(make_app(two)) as c:
        check_shape(c.post("/v1/feedback", json=body), status, code, field)
    assert read_log(two).empty  # nothing appended


def test_the_log_is_bounded(two: Path) -> None:
    with TestClient(make_app(two, feedback_max_bytes=1024)) as c:
        codes = [c.post("/v1/feedback", json={**GOOD, "session_id": f"s{i}"}).status_code
                 for i in range(20)]
        err = check_shape(c.post("/v1/feedback", json=GOOD), 507, "feedback_log_full", None)
    assert codes[0] == 202 and 507 in codes and "bound" in err["message"]
    assert layout.feedback_log_path(two).stat().st_size <= 1024
    assert read_log(two).invalid == 0
