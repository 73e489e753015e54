"""Request ids, the access log line and the request metrics, for every request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.serve.conftest import MakeApp, holder_of, search

# -- request ids and the access log --------------------------------------------------------


def test_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/livez", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"

    r = client.post("/v1/search", json={"query": ""}, headers={"x-request-id": "req-9"})
    assert r.headers["x-request-id"] == "req-9"
    assert r.json()["error"]["request_id"] == "req-9"


def test_request_id_is_generated(client: TestClient) -> None:
    a = client.get("/livez").headers["x-request-id"]
    bad = {"x-request-id": "bad id\twith spaces"}
    b = client.get("/livez", headers=bad).headers["x-request-id"]

    for rid in (a, b):
        assert len(rid) == 32 and int(rid, 16) >= 0
    assert a != b


def test_one_access_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture,
                                     snapshot_id: str) -> None:
    with caplog.at_level(logging.INFO, logger="snapsearch.access"):
        client.post("/v1/search", json={"query": "10k resistor", "mode": "lexical"},
                    headers={"x-request-id": "log-1"})
    lines = [r for r in caplog.records if r.name == "snapsearch.access"]

    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["request_id"] == "log-1"
    assert fields["method"] == "POST" and fields["path"] == "/v1/search"
    assert fields["status"] == 200 and fields["duration_ms"] >= 0
    assert fields["snapshot_id"] == snapshot_id
    assert fields["mode"] == "lexical" and fields["query_chars"] == len("10k resistor")


# -- metrics -------------------------------------------------------------------------------


def test_metrics_after_a_search(client: TestClient, snapshot_id: str) -> None:
    search(client, query="resistor", mode="hybrid")
    client.get("/nope")
    text = client.get("/metrics").text

    assert 'snapsearch_request_duration_seconds_bucket{le="0.001",method="POST",' \
           'route="/v1/search",status="200"}' in text
    assert 'snapsearch_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'snapsearch_searches_total{match="good",mode="hybrid"}' in text
    assert 'snapsearch_errors_total{code="route_not_found",route="<unmatched>"}' in text
    info = [line for line in text.splitlines() if line.startswith("snapsearch_snapshot_info{")]
    assert len(info) == 1
    assert f'snapshot_id="{snapshot_id}"' in info[0]
    assert 'model_id="snapsearch/hashing-test-encoder"' in info[0]
    assert info[0].endswith(" 1.0")


# -- unexpected errors ---------------------------------------------------------------------


def test_unexpected_error_is_500_without_traceback(make_app: MakeApp, store: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(store), raise_server_exceptions=False) as client:
        loaded = holder_of(client).current
        assert loaded is not None

        def boom(_req: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(loaded.engine, "search", boom)
        r = client.post("/v1/search", json={"query": "resistor"}, headers={"x-request-id": "r-500"})

    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "internal" and err["request_id"] == "r-500" and err["field"] is None
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] == "r-500"
