"""Inputs an attacker sends (issue 11, finding 8): JSON nested far too deep, integers past
SQLite's, NUL characters, lone surrogates, bytes that are not UTF-8; and a kept-alive connection
after a 500. Never a 5xx for bad input, always the one error shape, and the connection survives.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import SearchRequest, SearchResponse
from tests.serve.conftest import KNOWN_ID
from tests.serve.live import live_server
from tests.serve.test_errors import check_shape

JSON = {"content-type": "application/json"}


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# -- deep JSON -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    nested(1_000),                                              # the body itself
    '{"query": "r", "filters": {"numeric": ' + nested(1_000) + "}}",
    '{"query": "r", "filters": {"package": ' + deep_object(1_000) + "}}",
    '{"query": ' + nested(32_000) + "}",                         # far past any recursion limit
    nested(20_000)[:30_000],                                     # deep and truncated
], ids=["array body", "in numeric", "object in package", "32k deep", "deep truncated"])
def test_deep_json_is_a_400(client: TestClient, body: str) -> None:
    err = check_shape(client.post("/v1/search", content=body.encode(), headers=JSON), 400,
                      "malformed_json", None)
    assert "nested at most 200 levels" in err["message"]


def test_nesting_under_the_limit_is_judged_as_a_request(client: TestClient) -> None:
    body = '{"query": "r", "filters": {"package": ' + nested(150) + "}}"
    err = check_shape(client.post("/v1/search", content=body.encode(), headers=JSON), 422,
                      "invalid_request", "filters.package")
    assert "string" in err["message"]


# -- numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("filters", "field"), [
    ({"stock_min": 2**63}, "filters.stock_min"),
    ({"stock_min": 10**30}, "filters.stock_min"),
    ({"stock_min": 10**400}, "filters.stock_min"),
    ({"stock_min": 1e300}, "filters.stock_min"),
    ({"numeric": [{"attribute": "Resistance", "key": "resistance", "min": 10**400}]},
     "filters.numeric.0.min"),
])
def test_huge_numbers_are_a_422(client: TestClient, filters: dict[str, Any],
                                field: str) -> None:
    check_shape(client.post("/v1/search", json={"query": "r", "filters": filters}), 422,
                "invalid_request", field)


def test_the_largest_integer_sqlite_holds_is_fine(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "r", "filters": {"stock_min": 2**63 - 1}})
    assert r.status_code == 200 and r.json()["match"] == "none"
    r = client.post("/v1/search", json={"query": "r", "filters": {"stock_min": 100.0}})
    assert r.status_code == 200  # JSON has one number type: 100.0 is the integer 100


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "NaN", "Infinity"])
def test_non_finite_numbers(client: TestClient, literal: str) -> None:
    body = '{"query": "r", "min_score": ' + literal + "}"
    r = client.post("/v1/search", content=body.encode(), headers=JSON)
    assert r.status_code in (400, 422), r.text
    check_shape(r, r.status_code, r.json()["error"]["code"], r.json()["error"]["field"])


# -- text --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"query": "\x00"},
    {"query": "a\x00b resistor"},
    {"query": "10k\x00 0402", "mode": "lexical"},
    {"query": "r", "filters": {"package": "\x00"}},
    {"query": "r", "filters": {"numeric": [{"attribute": "\x00", "key": "\x00", "min": 1}]}},
    {"query": "\u202e\ufeff\U0001f600 resistor"},
])
def test_nul_and_odd_characters_are_answered(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["query"] == body["query"]


def test_nul_in_a_collection_name_is_a_404(client: TestClient) -> None:
    check_shape(client.post("/v1/search", json={"query": "r", "collection": "pa\x00rts"}), 404,
                "unknown_collection", "collection")
    check_shape(client.get(f"/v1/records/{KNOWN_ID}?collection=%00"), 404,
                "unknown_collection", "collection")


@pytest.mark.parametrize("raw", [
    b'{"query": "\\ud800"}',                        # a lone high surrogate
    b'{"query": "\\udc00 resistor"}',               # a lone low surrogate
    b'{"query": "r", "filters": {"\\ud800": 1}}',   # in a key
    b'{"query": "\xff\xfe"}',                       # not UTF-8
    b'{"query": "\xed\xa0\x80"}',                   # a surrogate encoded as UTF-8 (invalid)
    b"\xef\xbb\xbf" + b'{"query": "r"}',            # a byte-order mark
])
def test_invalid_unicode_is_a_400(client: TestClient, raw: bytes) -> None:
    check_shape(client.post("/v1/search", content=raw, headers=JSON), 400, "malformed_json",
                None)


def test_a_surrogate_pair_is_fine(client: TestClient) -> None:
    r = client.post("/v1/search", content=b'{"query": "\\ud83d\\ude00 resistor"}', headers=JSON)
    assert r.status_code == 200 and r.json()["query"] == "\U0001f600 resistor"


@pytest.mark.parametrize("path", [
    "/?q=%00", "/?q=%ED%A0%80", "/?q=%FF%FE&package=%00", "/?q=r&stock_min=99999999999999999999",
    "/?q=r&numeric.attribute=%00&numeric.key=k&numeric.min=1e400", "/records/%00",
    "/records/%ED%A0%80?collection=%FF", "/v1/records/%ED%A0%80",
])
def test_the_pages_never_fail_on_odd_parameters(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code < 500, r.text
    if r.status_code >= 400 and r.headers["content-type"].startswith("text/html"):
        assert 'class="problem"' in r.text


# -- a 500 does not cost the connection ------------------------------------------------------

def http_on(sock: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on ``sock`` and read its whole response (Content-Length)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        body += chunk
    return int(head.split(b" ")[1]), body


def search_request(query: str) -> bytes:
    body = b'{"query": "' + query.encode() + b'"}'
    return (b"POST /v1/search HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_a_kept_alive_connection_survives_a_500(
    make_app: Callable[..., Starlette], store: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = SearchEngine.search

    def search(self: SearchEngine, req: SearchRequest) -> SearchResponse:
        if req.query == "boom":
            raise ZeroDivisionError("planted")
        return real(self, req)

    monkeypatch.setattr(SearchEngine, "search", search)
    with live_server(make_app(store)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(3):
                status, body = http_on(sock, search_request("boom"))
                assert status == 500 and b'"code":"internal"' in body
                # the same connection answers the next request
                status, body = http_on(sock, search_request("resistor"))
                assert status == 200 and b'"hits"' in body
