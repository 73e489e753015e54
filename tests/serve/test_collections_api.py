"""POST /v1/search with ``collections``, POST /v1/search/batch, POST /v1/context; the server's
exclusion policy counted in /metrics by rule; session_id in the access log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from snapsearch.search.context import compact, token_counter, tokenizer_file
from tests.serve.conftest import make_app
from tests.serve.test_errors import check_shape
from tests.serve.twostore import two_collection_store


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_collection_store(tmp_path_factory.mktemp("collections-api"))


@pytest.fixture(scope="module")
def client(two: Path) -> Iterator[TestClient]:
    with TestClient(make_app(two)) as c:
        yield c


# -- several collections -------------------------------------------------------------------------


def test_search_across_collections(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "An open-drain I2C bus needs pull-up resistors",
                                        "collections": "all", "limit": 20,
                                        "weights": {"notes": 2.0}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["collections"] == ["notes", "parts"]
    assert {h["collection"] for h in body["hits"]} == {"parts", "notes"}
    assert set(body["per_collection"]) == {"parts", "notes"}
    assert body["per_collection"]["notes"]["weight"] == 2.0
    assert all({"id", "collection", "score", "scores", "reasons", "record"} == set(h)
               for h in body["hits"])
    single = client.post("/v1/search", json={"query": "pull-up resistor",
                                             "collection": "parts"}).json()
    assert single["collection"] == "parts" and "collections" not in single  # as before


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"query": "r", "collections": ["nope"]}, 404, "unknown_collection", "collection"),
    ({"query": "r", "collections": []}, 422, "invalid_request", "collections"),
    ({"query": "r", "collections": "all", "weights": {"nope": 1}}, 422, "invalid_request",
     "weights.nope"),
    ({"query": "r", "collections": "all", "weights": {"parts": -1}}, 422, "invalid_request",
     "weights"),
    ({"query": "r", "collections": "all", "collection": "parts"}, 422, "invalid_request",
     "collection"),
    ({"query": "r", "collections": "all", "filters": {"parts": {"colour": 1}}}, 422,
     "filter_not_supported", "filters.colour"),
])
def test_search_across_collections_errors(client: TestClient, body: object, status: int,
                                          code: str, field: str) -> None:
    check_shape(client.post("/v1/search", json=body), status, code, field)


# -- batches ------------------------------------------------------------------------------------


def test_search_batch(client: TestClient) -> None:
    items = [{"query": "10k resistor", "limit": 2, "collection": "parts"},
             {"query": ""},
             {"query": "crystal", "collections": "all", "limit": 3},
             {"query": "x", "filters": {"colour": "red"}}]
    r = client.post("/v1/search/batch", json={"items": items}, headers={"x-request-id": "sb"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [("error" in x) for x in results] == [False, True, False, True]
    assert results[0]["collection"] == "parts" and len(results[0]["hits"]) == 2
    assert results[1]["error"]["field"] == "query" and results[1]["error"]["request_id"] == "sb"
    assert results[2]["collections"] == ["notes", "parts"]
    assert results[3]["error"]["code"] == "filter_not_supported"


def test_search_batch_limits(client: TestClient) -> None:
    check_shape(client.post("/v1/search/batch", json={"items": []}), 422, "invalid_request",
                "items")
    big = {"items": [{"query": "x" * 500}] * 100}
    assert client.post("/v1/search/batch", json=big).status_code == 200  # 50 KB: fits
    check_shape(client.post("/v1/search/batch", content=b"x" * (1024 * 1024 + 1)), 413,
                "payload_too_large", None)


def test_one_failing_item_is_its_own_500(two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(two)) as c:
        engine = c.app_state["holder"].current.engine
        real = engine.search

        def flaky(req, **kw):  # type: ignore[no-untyped-def]
            if req.query == "boom":
                raise ZeroDivisionError("x")
            return real(req, **kw)

        monkeypatch.setattr(engine, "search", flaky)
        r = c.post("/v1/search/batch", json={"items": [{"query": "boom"}, {"query": "ok"}]})
    assert r.status_code == 200
    a, b = r.json()["results"]
    assert a["error"]["code"] == "internal" and "hits" in b


# -- context ------------------------------------------------------------------------------------


def test_context(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="snapsearch.access"):
        r = client.post("/v1/context", json={"query": "I2C pull-up resistor", "max_tokens": 120,
                                             "per_collection_k": 4, "session_id": "sess-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["session_id"] == "sess-1" and body["max_tokens"] == 120
    count = token_counter(tokenizer_file(None))
    assert body["tokens"] == count(compact(body["context"])) <= 120
    assert set(body["trimmed"]) == {"shortened", "dropped"}
    fields = [x.fields for x in caplog.records if x.name == "snapsearch.access"][-1]
    assert fields["session_id"] == "sess-1" and fields["tokens"] == body["tokens"]
    fresh = client.post("/v1/context", json={"query": "crystal"}).json()
    assert len(fresh["session_id"]) == 32 and fresh["max_tokens"] == 800


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"query": "r", "max_tokens": 1}, "invalid_request", "max_tokens"),
    ({"query": "r", "prioritise": "oldest"}, "invalid_request", "prioritise"),
    ({"query": "r", "per_collection_k": 51}, "invalid_request", "per_collection_k"),
    ({"query": "r", "session_id": "has space"}, "invalid_request", "session_id"),
    ({"max_tokens": 100}, "invalid_request", "query"),
])
def test_context_errors(client: TestClient, body: object, code: str, field: str) -> None:
    check_shape(client.post("/v1/context", json=body), 422, code, field)
    check_shape(client.post("/v1/context", json={"query": "r", "collections": ["x"]}), 404,
                "unknown_collection", "collection")


# -- policy and session ids ---------------------------------------------------------------------


def test_the_policy_applies_to_every_request_and_is_counted(two: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps([{"name": "basic", "field": "library_type", "equals": "Basic"},
                                  {"name": "nc", "field": "licence", "equals": "x"}]))
    with TestClient(make_app(two, exclude_policy=policy)) as c:
        text = c.get("/metrics").text
        assert 'snapsearch_policy_excluded_total{rule="basic"} 0.0' in text
        hits = c.post("/v1/search", json={"query": "resistor", "limit": 50,
                                          "collection": "parts"}).json()["hits"]
        assert hits and all(h["record"]["library_type"] != "Basic" for h in hits)
        looked = c.post("/v1/lookup", json={"limit": 100, "collection": "parts"}).json()
        assert all(x["record"]["library_type"] != "Basic" for x in looked["records"])
        multi = c.post("/v1/search", json={"query": "resistor", "collections": "all"}).json()
        assert all(h["record"].get("library_type") != "Basic" for h in multi["hits"])
        ctx = c.post("/v1/context", json={"query": "resistor"}).json()
        assert all(e.get("library_type") != "Basic" for e in ctx["context"]["parts"])
        text = c.get("/metrics").text
    line = next(x for x in text.splitlines()
                if x.startswith('snapsearch_policy_excluded_total{rule="basic"}'))
    assert float(line.split()[-1]) > 100


def test_a_bad_policy_file_is_a_settings_error(tmp_path: Path) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text('[{"field": "x"}]')
    with pytest.raises(ValueError, match="exactly one"):
        make_app(tmp_path, exclude_policy=bad)


def test_session_id_reaches_the_access_log(client: TestClient,
                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="snapsearch.access"):
        client.post("/v1/search", json={"query": "resistor", "session_id": "s-42"})
        client.post("/v1/search", json={"query": "resistor", "collections": "all",
                                        "session_id": "s-43"})
    sessions = [x.fields.get("session_id") for x in caplog.records
                if x.name == "snapsearch.access"]
    assert sessions == ["s-42", "s-43"]
    check_shape(client.post("/v1/search", json={"query": "r", "session_id": "a b"}), 422,
                "invalid_request", "session_id")
