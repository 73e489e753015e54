"""A source URL's credentials and tokens are used for the request and recorded nowhere
(issue 11, finding 9): not in the fetch manifest, the raw version, errors or logs."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from pipelines.fetch import fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import SourceError
from tests.pipelines.fetch.conftest import no_sleep

SECRET_URL = "https://bob:hunter2@data.example.test/parts.jsonl?token=t0psecret&page=1"
SHOWN = "https://***@data.example.test/parts.jsonl?token=***&page=1"
SECRETS = ("hunter2", "t0psecret", "bob:")


def fetch(root: Path, handler, url: str = SECRET_URL, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("sleep", no_sleep)
    return fetch_source(url, root, transport=httpx.MockTransport(handler), **kw)


def assert_no_secret(text: str) -> None:
    for s in SECRETS:
        assert s not in text, f"{s!r} leaked: {text}"


def test_the_request_has_them_the_records_do_not(root: Path, caplog) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b'{"id": 1}\n', headers={"ETag": '"v1"'})

    with caplog.at_level(logging.DEBUG):
        raw = fetch(root, handler)
    # the server got the credentials and the token
    assert seen[0].url.params["token"] == "t0psecret"
    assert seen[0].headers["Authorization"].startswith("Basic ")
    # nothing recorded holds them
    assert raw.source == SHOWN
    assert read_fetch_manifest(root)[0]["source"] == SHOWN
    assert_no_secret(layout.fetch_manifest_path(root).read_text(encoding="utf-8"))
    assert_no_secret(caplog.text)


def test_a_new_token_for_the_same_source_is_the_same_source(root: Path) -> None:
    """Presigned URLs change their signature every time: the source is what remains."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, content=b'{"id": 1}\n', headers={"ETag": '"v1"'})

    first = fetch(root, handler)
    second = fetch(root, handler, url=SECRET_URL.replace("t0psecret", "n3wsecret"))
    assert seen[1].headers["If-None-Match"] == '"v1"'
    assert (first.new, second.new) == (True, False)
    assert second.source == SHOWN


@pytest.mark.parametrize("status", [401, 403, 404])
def test_http_errors_name_the_url_redacted(root: Path, status: int) -> None:
    with pytest.raises(SourceError) as exc:
        fetch(root, lambda r: httpx.Response(status))
    assert SHOWN in exc.value.message
    assert_no_secret(str(exc.value))


def test_connection_errors_name_the_url_redacted(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with pytest.raises(SourceError) as exc:
        fetch(root, handler, retries=1)
    assert_no_secret(str(exc.value))
    assert "attempts" in exc.value.message


def test_a_request_error_is_redacted_and_not_chained(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.TooManyRedirects(f"redirected past {request.url}", request=request)

    with pytest.raises(SourceError) as exc:
        fetch(root, handler)
    assert_no_secret(str(exc.value))
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


def test_unsupported_scheme_is_redacted(root: Path) -> None:
    with pytest.raises(SourceError) as exc:
        fetch_source("ftp://bob:hunter2@h/p.jsonl", root)
    assert_no_secret(str(exc.value))
