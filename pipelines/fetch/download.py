"""HTTP(S) sources: a conditional GET with retries and exponential backoff, into the raw cache.

A ``304 Not Modified`` (the cached objects still there) returns the version already recorded;
connection errors, timeouts and 5xx are retried; other 4xx fail at once with a fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from snapsearch.format.errors import SourceError
from snapsearch.format.redact import redact_logger, redact_text, redact_url

from .cache import CHUNK, store_stream
from .raw import RawFile, RawVersion
from .versions import objects_present, record_version, version_from_entry

redact_logger("httpx")  # httpx logs every request's full URL at INFO
BACKOFF_S = 0.5
DEFAULT_URL_NAME = "download"
RETRY_FIX = (
    "check the server is reachable, or raise SNAPSEARCH_FETCH_TIMEOUT_S / SNAPSEARCH_FETCH_RETRIES"
)
_STATUS_FIX = {
    401: "give the URL credentials or use a public URL",
    403: "check the URL is readable without extra permissions",
    404: "check the URL; the file is not there",
    410: "the file was removed: point SNAPSEARCH_SOURCE at its new location",
    429: "the server is rate limiting: run the fetch again later",
}


@dataclass(frozen=True)
class _Download:
    file: RawFile | None  # None when the server answered 304 Not Modified
    etag: str | None
    last_modified: str | None


class _Retryable(Exception):
    """A failed attempt worth retrying (5xx)."""


def fetch_http(
    url: str,
    root: Path,
    previous: dict[str, Any] | None,
    timeout_s: float,
    retries: int,
    transport: httpx.BaseTransport | None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> RawVersion:
    """Fetch ``url`` (``previous``: its last manifest entry, for the conditional headers). Only
    the request sees ``url`` as given; what is recorded or raised names it redacted."""
    shown = redact_url(url)
    reusable = previous if previous is not None and objects_present(root, previous) else None
    headers = _conditional_headers(reusable)
    client = httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=True)
    with client:
        download = _get_with_retries(client, url, root, headers, timeout_s, retries, sleep)
    if download.file is None:
        if reusable is None:
            raise SourceError(
                f"{shown} answered 304 Not Modified to a request without validators",
                fix="check the server's caching configuration",
            )
        return version_from_entry(root, reusable, new=False)
    return record_version(
        root,
        shown,
        [download.file],
        previous,
        clock,
        download.etag,
        download.last_modified,
        single=True,
    )


def _conditional_headers(entry: dict[str, Any] | None) -> dict[str, str]:
    if entry is None:
        return {}
    headers: dict[str, str] = {}
    if entry.get("etag"):
        headers["If-None-Match"] = entry["etag"]
    if entry.get("last_modified"):
        headers["If-Modified-Since"] = entry["last_modified"]
    return headers


def _get_with_retries(
    client: httpx.Client,
    url: str,
    root: Path,
    headers: dict[str, str],
    timeout_s: float,
    retries: int,
    sleep: Callable[[float], None],
) -> _Download:
    """GET with exponential backoff on connection errors, timeouts and 5xx."""
    attempts = retries + 1
    reason = ""
    for attempt in range(attempts):
        if attempt:
            sleep(BACKOFF_S * 2 ** (attempt - 1))
        try:
            return _get_once(client, url, root, headers)
        except httpx.TimeoutException as exc:
            reason = f"timed out after {timeout_s:g}s ({type(exc).__name__})"
        except httpx.TransportError as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}")
        except _Retryable as exc:
            reason = str(exc)
        except (httpx.InvalidURL, httpx.RequestError) as exc:
            raise SourceError(
                f"could not fetch {redact_url(url)}: {redact_text(str(exc))}", fix="check the URL"
            ) from None
    raise SourceError(
        f"could not fetch {redact_url(url)} in {attempts} attempts: {reason}", fix=RETRY_FIX
    )


def _get_once(client: httpx.Client, url: str, root: Path, headers: dict[str, str]) -> _Download:
    with client.stream("GET", url, headers=headers) as response:
        status = response.status_code
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        if status == 304:
            return _Download(None, etag, last_modified)
        if status >= 500:
            raise _Retryable(f"HTTP {status} {response.reason_phrase}")
        if not response.is_success:
            raise SourceError(
                f"could not fetch {redact_url(url)}: HTTP {status} {response.reason_phrase}",
                fix=_STATUS_FIX.get(status, "check the URL and the server's answer"),
            )
        name = url_name(url)
        chunks = (
            response.iter_raw(CHUNK)
            if _keep_encoded(name, response)
            else response.iter_bytes(CHUNK)
        )
        sha, size, path = store_stream(root, chunks)
        return _Download(RawFile(name, sha, size, path), etag, last_modified)


def url_name(url: str) -> str:
    """The last path segment of ``url``, or ``download`` when there is none."""
    return httpx.URL(url).path.rsplit("/", 1)[-1] or DEFAULT_URL_NAME


def _keep_encoded(name: str, response: httpx.Response) -> bool:
    """A ``.gz`` file served with ``Content-Encoding: gzip`` is kept compressed, as named."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    return name.endswith(".gz") and encoding in ("gzip", "x-gzip")
