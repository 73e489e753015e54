"""POST /v1/lookup, POST /v1/lookup/batch, GET/POST /v1/records: success, bad input in the one
error shape, and the edge cases (missing ids listed, one bad batch item)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.serve.conftest import make_app
from tests.serve.test_errors import check_shape
from tests.serve.twostore import two_collection_store

RES = {"attribute": "Resistance", "key": "resistance"}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_collection_store(tmp_path_factory.mktemp("lookup-api"))


@pytest.fixture(scope="module")
def client(two: Path) -> Iterator[TestClient]:
    with TestClient(make_app(two)) as c:
        yield c


def test_lookup(client: TestClient) -> None:
    r = client.post("/v1/lookup", json={
        "collection": "parts", "filters": {"numeric": [{**RES, "min": 9900, "max": 10100}],
                                           "qty": 1000}, "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"collection", "snapshot_id", "total", "offset", "limit", "order",
                         "records", "took_ms"}
    assert body["total"] >= len(body["records"]) > 0
    assert all(set(x) == {"id", "record"} for x in body["records"])
    types = [x["record"]["library_type"] for x in body["records"]]
    assert types == sorted(types, key=lambda t: {"Preferred": 0, "Basic": 1}.get(t, 2))


def test_lookup_sorted_and_paged(client: TestClient) -> None:
    body = {"collection": "parts", "filters": {"category": "Resistors"}, "sort": "-stock"}
    a = client.post("/v1/lookup", json={**body, "limit": 10}).json()
    b = client.post("/v1/lookup", json={**body, "limit": 5, "offset": 5}).json()
    assert [x["id"] for x in b["records"]] == [x["id"] for x in a["records"][5:]]
    assert a["total"] == b["total"] and a["collection"] == "parts"


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"filters": {"colour": "red"}}, 422, "filter_not_supported", "filters.colour"),
    ({"filters": {"qty": "10"}}, 422, "invalid_request", "filters.qty"),
    ({"sort": "colour"}, 422, "invalid_sort", "sort"),
    ({"limit": 0}, 422, "invalid_request", "limit"),
    ({"query": "x"}, 422, "invalid_request", "query"),
    ({"collection": "nope"}, 404, "unknown_collection", "collection"),
    ({"exclude": [{"field": "stock"}]}, 422, "invalid_exclude", "exclude.0"),
    ([1], 422, "invalid_request", None),
])
def test_lookup_errors(client: TestClient, body: object, status: int, code: str,
                       field: str | None) -> None:
    if isinstance(body, dict):
        body = {"collection": "parts", **body}
    check_shape(client.post("/v1/lookup", json=body), status, code, field)


def test_lookup_malformed_and_empty(client: TestClient) -> None:
    check_shape(client.post("/v1/lookup", content=b"{"), 400, "malformed_json", None)
    check_shape(client.post("/v1/lookup", content=b""), 400, "malformed_json", None)


def test_lookup_batch(client: TestClient) -> None:
    items = [{"collection": "parts", "filters": {"package": "0402"}, "limit": 2},
             {"collection": "parts", "filters": {"colour": 1}},
             {"collection": "notes", "limit": 1}, {"collection": "nope"}]
    r = client.post("/v1/lookup/batch", json={"items": items}, headers={"x-request-id": "b-1"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 4
    assert results[0]["total"] > 0 and len(results[0]["records"]) == 2
    assert results[1] == {"error": {"code": "filter_not_supported",
                                    "message": results[1]["error"]["message"],
                                    "field": "filters.colour", "request_id": "b-1"}}
    assert results[2]["records"][0]["id"] == "n1"
    assert results[3]["error"]["code"] == "unknown_collection"


@pytest.mark.parametrize("body", [{"items": []}, {"items": [{}] * 101}, {"items": {}},
                                  {"item": []}, {}])
def test_lookup_batch_bounds(client: TestClient, body: object) -> None:
    err = check_shape(client.post("/v1/lookup/batch", json=body), 422, "invalid_request",
                      "items")
    assert "items" in err["message"]


def test_records_get_and_post(client: TestClient) -> None:
    r = client.get("/v1/records", params={"ids": "C25744,C0,,C25725", "collection": "parts"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["records"]] == ["C25744", "C25725"]
    assert body["missing"] == ["C0"] and body["missing_mpns"] == []
    assert body["records"][0]["record"]["mfr_part"] == "0402WGF1002TCE"
    r = client.post("/v1/records", json={"mpns": ["0402WGF1002TCE", "NOPE"], "ids": ["C17902"],
                                         "collection": "parts"})
    body = r.json()
    assert [(x["id"], x["mpn"]) for x in body["records"]] == [("C17902", None),
                                                              ("C25744", "0402WGF1002TCE")]
    assert body["missing_mpns"] == ["NOPE"]
    notes = client.get("/v1/records", params={"ids": "n1", "collection": "notes"}).json()
    assert notes["records"][0]["record"]["title"] == "Decoupling capacitors"


def test_records_errors(client: TestClient) -> None:
    check_shape(client.get("/v1/records"), 422, "invalid_request", None)
    check_shape(client.get("/v1/records", params={"ids": "a", "colour": "x"}), 422,
                "invalid_request", "colour")
    many = ",".join(f"C{i}" for i in range(101))
    check_shape(client.get("/v1/records", params={"ids": many}), 422, "invalid_request", "ids")
    check_shape(client.get("/v1/records", params={"ids": "a", "collection": "nope"}), 404,
                "unknown_collection", "collection")
    check_shape(client.post("/v1/records", json={"mpns": ["x"], "collection": "notes"}), 422,
                "invalid_request", "mpns")
    check_shape(client.delete("/v1/records"), 405, "method_not_allowed", None)


def test_not_ready(two: Path) -> None:
    c = TestClient(make_app(two))  # lifespan not run
    check_shape(c.post("/v1/lookup", json={}), 503, "not_ready", None)
    check_shape(c.get("/v1/records", params={"ids": "a"}), 503, "not_ready", None)
