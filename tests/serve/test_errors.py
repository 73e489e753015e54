"""One error shape, pinned across every endpoint and every kind of failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from serve.errors import describe_routes
from serve.holder import SnapshotHolder
from serve.routes import MAX_BODY_BYTES
from snapsearch.search.errors import FilterNotSupported

ERROR_KEYS = {"code", "message", "field", "request_id"}


def check_shape(r: Any, status: int, code: str, field: str | None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == ERROR_KEYS
    assert err["code"] == code
    assert err["field"] == field
    assert isinstance(err["message"], str) and err["message"]
    assert err["request_id"] == r.headers["x-request-id"]
    return dict(err)


SEARCH_CASES = [
    # (id, body, status, code, field, words the message must contain)
    ("unknown filter", {"query": "r", "filters": {"colour": "red"}}, 422, "filter_not_supported",
     "filters.colour", ["colour", "category", "package", "numeric"]),
    ("stock_min as a string", {"query": "r", "filters": {"stock_min": "10"}}, 422,
     "invalid_request", "filters.stock_min", ["integer"]),
    ("in_stock as a number", {"query": "r", "filters": {"in_stock": 1}}, 422,
     "invalid_request", "filters.in_stock", ["true or false"]),
    ("filters not an object", {"query": "r", "filters": [1]}, 422, "invalid_request",
     "filters", ["an object"]),
    ("unknown top-level field", {"query": "r", "sort": "price"}, 422, "invalid_request",
     "sort", ["sort", "query", "limit"]),
    ("limit 0", {"query": "r", "limit": 0}, 422, "invalid_request", "limit", ["1 to 100"]),
    ("limit 101", {"query": "r", "limit": 101}, 422, "invalid_request", "limit", ["1 to 100"]),
    ("empty query", {"query": ""}, 422, "invalid_request", "query", ["512"]),
    ("whitespace query", {"query": "   "}, 422, "invalid_request", "query", ["blank"]),
    ("600-char query", {"query": "x" * 600}, 422, "invalid_request", "query", ["512"]),
    ("missing query", {"limit": 5}, 422, "invalid_request", "query", ["required"]),
    ("mode wrong type", {"query": "r", "mode": 5}, 422, "invalid_request", "mode",
     ["vector", "lexical", "hybrid"]),
    ("mode unknown", {"query": "r", "mode": "fuzzy"}, 422, "invalid_request", "mode",
     ["hybrid"]),
    ("numeric bound wrong type",
     {"query": "r", "filters": {"numeric": [{"attribute": "Resistance", "key": "resistance",
                                             "min": "ten"}]}},
     422, "invalid_request", "filters.numeric.0.min", ["number"]),
    ("library_type unknown", {"query": "r", "filters": {"library_type": "Gold"}}, 422,
     "invalid_request", "filters.library_type", ["Basic"]),
    ("body not an object", [1, 2], 422, "invalid_request", None, ["object"]),
    ("unknown collection", {"query": "r", "collection": "nope"}, 404, "unknown_collection",
     "collection", ["nope", "parts"]),
    # strict types: nothing is coerced
    ("limit as a string", {"query": "r", "limit": "10"}, 422, "invalid_request", "limit",
     ["integer"]),
    ("limit as a boolean", {"query": "r", "limit": True}, 422, "invalid_request", "limit",
     ["integer"]),
    ("limit with a fraction", {"query": "r", "limit": 10.5}, 422, "invalid_request", "limit",
     ["integer"]),
    ("offset as a string", {"query": "r", "offset": "0"}, 422, "invalid_request", "offset",
     ["integer"]),
    ("min_score as a string", {"query": "r", "min_score": "0.5"}, 422, "invalid_request",
     "min_score", ["number"]),
    ("min_score as a boolean", {"query": "r", "min_score": True}, 422, "invalid_request",
     "min_score", ["number"]),
    ("query as a number", {"query": 5}, 422, "invalid_request", "query", ["string"]),
    ("query null", {"query": None}, 422, "invalid_request", "query", ["string"]),
    ("collection as a number", {"query": "r", "collection": 5}, 422, "invalid_request",
     "collection", ["string"]),
    ("stock_min as a boolean", {"query": "r", "filters": {"stock_min": True}}, 422,
     "invalid_request", "filters.stock_min", ["integer"]),
    ("stock_min 2^63", {"query": "r", "filters": {"stock_min": 2**63}}, 422, "invalid_request",
     "filters.stock_min", ["9223372036854775807"]),
    ("stock_min negative", {"query": "r", "filters": {"stock_min": -1}}, 422, "invalid_request",
     "filters.stock_min", ["integer from 0"]),
    ("limit 10**30", {"query": "r", "limit": 10**30}, 422, "invalid_request", "limit",
     ["1 to 100"]),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field", "words"),
    [c[1:] for c in SEARCH_CASES], ids=[c[0] for c in SEARCH_CASES],
)
def test_search_errors(client: TestClient, body: Any, status: int, code: str,
                       field: str | None, words: list[str]) -> None:
    err = check_shape(client.post("/v1/search", json=body), status, code, field)
    for word in words:
        assert word in err["message"]


def test_malformed_json(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    r = client.post("/v1/search", content=b'{"query": "r",', headers=json_type)
    check_shape(r, 400, "malformed_json", None)


def test_empty_body(client: TestClient) -> None:
    check_shape(client.post("/v1/search", content=b""), 400, "malformed_json", None)


def test_oversized_body(client: TestClient) -> None:
    body = b'{"query": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    check_shape(client.post("/v1/search", content=body), 413, "payload_too_large", None)


def test_oversized_body_without_content_length(client: TestClient) -> None:
    chunks = (b"x" * 16384 for _ in range(8))  # streamed: no content-length
    check_shape(client.post("/v1/search", content=chunks), 413, "payload_too_large", None)


def test_unknown_route(client: TestClient) -> None:
    err = check_shape(client.get("/v2/search"), 404, "route_not_found", None)
    # the routes are read from the app's own routes, in their order
    assert err["message"] == (
        "no route GET /v2/search; routes: POST /v1/search, GET /v1/records/{id}, "
        "GET /v1/snapshot, GET /livez, GET /readyz, GET /metrics, GET /, GET /records/{id}, "
        "GET /openapi.json, POST /v1/lookup, POST /v1/lookup/batch, GET /v1/records, "
        "POST /v1/records, POST /v1/search/batch, POST /v1/context, POST /v1/feedback"
    )


def test_method_not_allowed(client: TestClient) -> None:
    r = client.get("/v1/search")
    err = check_shape(r, 405, "method_not_allowed", None)
    assert r.headers["allow"] == "POST"
    assert "POST" in err["message"]
    check_shape(client.delete("/v1/snapshot"), 405, "method_not_allowed", None)


def test_unknown_record(client: TestClient) -> None:
    err = check_shape(client.get("/v1/records/C000"), 404, "not_found", None)
    assert "C000" in err["message"]


def test_record_in_unknown_collection(client: TestClient) -> None:
    r = client.get("/v1/records/C25744?collection=nope")
    check_shape(r, 404, "unknown_collection", "collection")


def test_filter_not_supported(make_app: Callable[..., Starlette], store: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(store)) as client:
        loaded = client.app_state["holder"].current
        assert isinstance(client.app_state["holder"], SnapshotHolder) and loaded is not None

        def unsupported(_req: object) -> None:
            raise FilterNotSupported("package", "docs", "text", [])

        monkeypatch.setattr(loaded.engine, "search", unsupported)
        r = client.post("/v1/search", json={"query": "r", "filters": {"package": "0402"}})

    err = check_shape(r, 422, "filter_not_supported", "filters.package")
    assert "its filters: none" in err["message"]


def test_not_ready(make_app: Callable[..., Starlette], store: Path) -> None:
    client = TestClient(make_app(store))  # lifespan not run
    check_shape(client.get("/readyz"), 503, "not_ready", None)
    check_shape(client.post("/v1/search", json={"query": "r"}), 503, "not_ready", None)
    check_shape(client.get("/v1/snapshot"), 503, "not_ready", None)
    check_shape(client.get("/v1/records/C25744"), 503, "not_ready", None)


def test_internal_error(make_app: Callable[..., Starlette], store: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(store), raise_server_exceptions=False) as client:
        loaded = client.app_state["holder"].current

        def boom(_req: object) -> None:
            raise ZeroDivisionError("x")

        monkeypatch.setattr(loaded.engine, "search", boom)
        r = client.post("/v1/search", json={"query": "r"})
    check_shape(r, 500, "internal", None)


def test_no_match_is_not_an_error(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "zzzzqqqq", "mode": "lexical"})
    assert r.status_code == 200
    assert r.json()["match"] == "none" and r.json()["hits"] == []
    assert "error" not in r.json()


def test_describe_routes_lists_methods_without_head() -> None:
    async def endpoint(_request: object) -> None: ...

    routes = [
        Route("/a", endpoint, methods=["GET"]),
        Route("/b/{id}", endpoint, methods=["PUT", "POST"]),
        Mount("/static", routes=[]),  # not a route of its own: not listed
    ]
    assert describe_routes(routes) == "GET /a, POST /b/{id}, PUT /b/{id}"
