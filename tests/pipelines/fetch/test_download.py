"""HTTP sources: conditional GET, retries with backoff, errors that name the fix."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from pipelines.fetch import fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import SourceError
from tests.pipelines.fetch.conftest import T0, T1, URL, clock, fetch_url, objects


def test_http_200_then_304_reuses_cached_version(root: Path) -> None:
    body = b'{"id": 1}\n'
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        headers = {"ETag": '"v1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"}
        return httpx.Response(200, content=body, headers=headers)

    first = fetch_url(root, handler, now=clock(T0))
    second = fetch_url(root, handler, now=clock(T1))

    assert first.new is True
    assert first.etag == '"v1"'
    assert first.last_modified == "Wed, 01 May 2024 10:00:00 GMT"
    (f,) = first.files
    assert f.name == "parts-3k.jsonl.gz"
    assert f.path.read_bytes() == body
    assert "If-None-Match" not in seen[0].headers
    assert seen[1].headers["If-None-Match"] == '"v1"'
    assert seen[1].headers["If-Modified-Since"] == "Wed, 01 May 2024 10:00:00 GMT"
    assert second.new is False
    assert second.digest == first.digest
    assert second.fetched_at == first.fetched_at == "2024-05-01T12:00:00Z"
    assert second.files == first.files
    entries = read_fetch_manifest(root)
    assert len(entries) == 1
    assert entries[0]["etag"] == '"v1"' and entries[0]["sha256"] == f.sha256

def test_http_200_with_same_bytes_is_unchanged(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"same\n")

    first = fetch_url(root, handler)
    second = fetch_url(root, handler)

    assert (first.new, second.new) == (True, False)
    assert len(read_fetch_manifest(root)) == 1
    assert len(objects(root)) == 1

def test_http_retries_503_then_succeeds(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 2:
            return httpx.Response(503)
        return httpx.Response(200, content=b"ok\n")

    v = fetch_url(root, handler, retries=3, sleep=sleeps.append)

    assert v.new is True
    assert v.files[0].path.read_bytes() == b"ok\n"
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]

def test_http_connect_error_is_retried(root: Path) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=b"ok\n")

    assert fetch_url(root, handler, retries=1).new is True
    assert len(calls) == 2

def test_http_404_is_a_source_error_and_leaves_nothing(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, content=b"not here")

    with pytest.raises(SourceError) as err:
        fetch_url(root, handler, retries=3, sleep=sleeps.append)

    message = str(err.value)
    assert URL in message and "404" in message and "Not Found" in message
    assert err.value.fix
    assert len(calls) == 1 and sleeps == []  # 4xx is not retried
    assert read_fetch_manifest(root) == []
    assert not layout.fetch_manifest_path(root).exists()
    assert objects(root) == []

def test_http_timeouts_exhaust_retries(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(SourceError, match="timed out") as err:
        fetch_url(root, handler, retries=2, timeout_s=0.1, sleep=sleeps.append)

    assert URL in str(err.value)
    assert "3 attempts" in str(err.value)
    assert "SNAPSEARCH_FETCH_RETRIES" in (err.value.fix or "")
    assert len(calls) == 3 and sleeps == [0.5, 1.0]
    assert read_fetch_manifest(root) == []
    assert objects(root) == []

def test_http_5xx_exhausted_names_status(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502)

    with pytest.raises(SourceError, match="in 2 attempts: HTTP 502 Bad Gateway"):
        fetch_url(root, handler, retries=1)

def test_http_304_with_missing_cache_object_refetches(root: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "If-None-Match" in request.headers:
            return httpx.Response(304)
        return httpx.Response(200, content=b"ok\n", headers={"ETag": '"v1"'})

    first = fetch_url(root, handler)
    first.files[0].path.unlink()

    second = fetch_url(root, handler)

    assert "If-None-Match" not in seen[1].headers
    assert second.new is False and second.digest == first.digest
    assert second.files[0].path.read_bytes() == b"ok\n"

def test_http_gz_with_content_encoding_is_kept_compressed(root: Path) -> None:
    payload = gzip.compress(b'{"id": 1}\n')

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip"}
        return httpx.Response(200, stream=httpx.ByteStream(payload), headers=headers)

    (f,) = fetch_url(root, handler).files

    assert f.path.read_bytes() == payload

def test_http_url_without_file_name_is_download(root: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x"))
    v = fetch_source("https://data.example.test/", root, transport=transport)
    assert v.files[0].name == "download"
