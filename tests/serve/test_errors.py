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
from serve.routes import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES
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


# every endpoint that reads a JSON body, with a body it answers 200 (202) and its body limit
JSON_ROUTES: list[tuple[str, dict[str, Any], int]] = [
    ("/v1/search", {"query": "r"}, MAX_BODY_BYTES),
    ("/v1/search/batch", {"items": [{"query": "r"}]}, MAX_BATCH_BODY_BYTES),
    ("/v1/lookup", {"collection": "parts"}, MAX_BODY_BYTES),
    ("/v1/lookup/batch", {"items": [{}]}, MAX_BATCH_BODY_BYTES),
    ("/v1/records", {"ids": ["C25744"]}, MAX_BODY_BYTES),
    ("/v1/context", {"query": "r"}, MAX_BODY_BYTES),
    ("/v1/feedback", {"session_id": "s", "id": "C0", "collection": "parts",
                      "outcome": "positive"}, MAX_BODY_BYTES),
]
JSON_PATHS = [path for path, _body, _limit in JSON_ROUTES]


@pytest.mark.parametrize("path", JSON_PATHS)
@pytest.mark.parametrize("body", [
    b"[" * 1000 + b"]" * 1000,  # nested deeper than the parser goes: never a RecursionError
    b'{"a": ' * 1000 + b"1" + b"}" * 1000,
    b'{"items": [' + b"[" * 1000 + b"]" * 1000 + b"]}",
    b'{"query": "\\ud800"}',  # a lone surrogate
    b'{"query": "r"',
    b"\xff\xfe",
], ids=["deep list", "deep object", "deep item", "lone surrogate", "truncated", "not UTF-8"])
def test_bodies_that_are_not_json(client: TestClient, path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    check_shape(r, 400, "malformed_json", None)


@pytest.mark.parametrize("path", JSON_PATHS)
def test_empty_bodies(client: TestClient, path: str) -> None:
    check_shape(client.post(path, content=b""), 400, "malformed_json", None)


@pytest.mark.parametrize(("path", "limit"), [(p, n) for p, _b, n in JSON_ROUTES], ids=JSON_PATHS)
def test_body_limits(client: TestClient, path: str, limit: int) -> None:
    err = check_shape(client.post(path, content=b" " * (limit + 1)), 413, "payload_too_large",
                      None)
    assert str(limit) in err["message"]
    streamed = (b" " * 16384 for _ in range(limit // 16384 + 1))  # no content-length
    check_shape(client.post(path, content=streamed), 413, "payload_too_large", None)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/lookup", {"limit": "10"}, "limit"),
    ("/v1/lookup", {"limit": True}, "limit"),
    ("/v1/lookup", {"offset": 10**30}, "offset"),
    ("/v1/lookup", {"collection": 5}, "collection"),
    ("/v1/records", {"ids": "C25744"}, "ids"),
    ("/v1/records", {"ids": [5]}, "ids.0"),
    ("/v1/context", {"query": "r", "max_tokens": "100"}, "max_tokens"),
    ("/v1/context", {"query": "r", "per_collection_k": 2.5}, "per_collection_k"),
    ("/v1/search", {"query": "r", "collections": "all", "limit": "10"}, "limit"),
    ("/v1/search", {"query": "r", "collections": "all", "limits": {"parts": "1"}},
     "limits.parts"),
    ("/v1/feedback", {"session_id": "s", "id": "C25744", "collection": "parts",
                      "outcome": "positive", "weight": "1"}, "weight"),
    ("/v1/search/batch", {"items": "x"}, "items"),
])
def test_strict_types_everywhere(client: TestClient, path: str, body: dict[str, Any],
                                 field: str) -> None:
    """Nothing is coerced: a string is not a number, true is not 1."""
    check_shape(client.post(path, json=body), 422, "invalid_request", field)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/lookup", {"collection": "parts", "exclude": [{"field": "stock", "equals": 10**400}]},
     "exclude.0.equals"),
    ("/v1/lookup", {"collection": "parts", "exclude": [{"field": "stock", "in": [1, 10**400]}]},
     "exclude.0.in.1"),
    ("/v1/search", {"query": "r", "exclude": [{"field": "stock", "below": 10**400}]},
     "exclude.0.below"),
])
def test_numbers_past_any_float(client: TestClient, path: str, body: dict[str, Any],
                                field: str) -> None:
    check_shape(client.post(path, json=body), 422, "invalid_exclude", field)


@pytest.mark.parametrize("path", ["/v1/lookup", "/v1/search", "/v1/context"])
def test_integers_past_64_bits_are_answered(client: TestClient, path: str) -> None:
    """An integer SQLite cannot hold is compared as the float it is near, never a 500."""
    body: dict[str, Any] = {"exclude": [{"field": "stock", "equals": 10**30},
                                        {"field": "stock", "in": [-(10**30)]},
                                        {"field": "stock", "below": -(10**30)}]}
    if path != "/v1/lookup":
        body["query"] = "resistor"
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/lookup", {"collection": "parts", "filters": {"package": "04\x0002"}}),
    ("/v1/records", {"ids": ["C2\x005744"], "mpns": ["\x00"]}),
    ("/v1/search", {"query": "\x00", "collections": "all", "mode": "lexical"}),
    ("/v1/context", {"query": "r\x00"}),
])
def test_nul_is_text_like_any_other(client: TestClient, path: str, body: dict[str, Any]) -> None:
    assert client.post(path, json=body).status_code == 200


def test_unknown_route(client: TestClient) -> None:
    err = check_shape(client.get("/v2/search"), 404, "route_not_found", None)
    # the routes are read from the app's own routes, in their order
    assert err["message"] == (
        "no route GET /v2/search; routes: POST /v1/search, POST /v1/search/batch, "
        "POST /v1/lookup, POST /v1/lookup/batch, GET /v1/records/{id}, GET /v1/records, "
        "POST /v1/records, POST /v1/context, POST /v1/feedback, GET /v1/snapshot, GET /livez, "
        "GET /readyz, GET /metrics, GET /, GET /records/{id}, GET /openapi.json"
    )


def test_method_not_allowed(client: TestClient) -> None:
    r = client.get("/v1/search")
    err = check_shape(r, 405, "method_not_allowed", None)
    assert r.headers["allow"] == "POST"
    assert "POST" in err["message"]
    check_shape(client.delete("/v1/snapshot"), 405, "method_not_allowed", None)
    # a path with a route per method: Allow names them all
    r = client.delete("/v1/records")
    err = check_shape(r, 405, "method_not_allowed", None)
    assert r.headers["allow"] == "GET, HEAD, POST" and "GET, HEAD, POST" in err["message"]


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
