"""Fetch a source (local file, local directory or http(s) URL) into the raw cache.

``fetch_source`` copies the raw bytes into the content-addressed cache and appends one line to
the fetch manifest per new raw version; an unchanged source writes nothing and returns the
version already recorded (``new=False``). No parsing happens here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pipelines.fetch.cache import (
    CHUNK,
    append_fetch_manifest,
    iter_file,
    latest_entry,
    store_stream,
)
from snapsearch.format import layout
from snapsearch.format.errors import SourceError, StoreError
from snapsearch.format.hashing import sha256_file, sha256_text

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv")
HTTP_SCHEMES = ("http", "https")
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
class RawFile:
    """One raw file in the cache; ``path`` is its content-addressed object."""

    name: str
    sha256: str
    bytes: int
    path: Path


@dataclass(frozen=True)
class RawVersion:
    """One raw version of a source, as recorded in the fetch manifest."""

    source: str
    files: tuple[RawFile, ...]
    digest: str
    fetched_at: str
    etag: str | None
    last_modified: str | None
    new: bool


@dataclass(frozen=True)
class _Download:
    file: RawFile | None  # None when the server answered 304 Not Modified
    etag: str | None
    last_modified: str | None


class _Retryable(Exception):
    """A failed attempt worth retrying (5xx)."""


def fetch_source(
    source: str,
    root: Path,
    *,
    timeout_s: float = 30.0,
    retries: int = 3,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RawVersion:
    """Fetch ``source`` into ``<root>/_raw``; ``retries`` extra HTTP attempts after the first."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    clock = now or (lambda: datetime.now(UTC))
    previous = latest_entry(root, source)
    scheme = _scheme(source)
    if scheme in HTTP_SCHEMES:
        return _fetch_http(source, root, previous, timeout_s, retries, transport, clock, sleep)
    if scheme is not None:
        raise SourceError(
            f"source {source} has unsupported scheme {scheme!r}",
            fix="use a local file or directory, or an http(s) URL",
        )
    files, single = _ingest_path(Path(source).expanduser(), root, source)
    return _record(root, source, files, previous, clock, None, None, single=single)


def raw_digest(files: tuple[RawFile, ...] | list[RawFile]) -> str:
    """sha256 over the (name, sha256) pairs sorted by name: identifies a raw version."""
    pairs = sorted([f.name, f.sha256] for f in files)
    return sha256_text(json.dumps(pairs, separators=(",", ":")))


def _scheme(source: str) -> str | None:
    if "://" not in source:
        return None
    return source.split("://", 1)[0].lower()


def _ingest_path(path: Path, root: Path, source: str) -> tuple[list[RawFile], bool]:
    if path.is_dir():
        return [_ingest_file(p, root) for p in _data_files(path)], False
    if path.is_file():
        return [_ingest_file(path, root)], True
    raise SourceError(
        f"source {source} does not exist",
        fix="set SNAPSEARCH_SOURCE to an existing file, directory or http(s) URL",
    )


def _data_files(directory: Path) -> list[Path]:
    files = sorted(
        (p for p in directory.iterdir() if _is_data_file(p)),
        key=lambda p: p.name,
    )
    if not files:
        patterns = ", ".join(f"*{s}" for s in DATA_SUFFIXES)
        raise SourceError(
            f"source directory {directory} has no data files ({patterns})",
            fix="put the data files in it, or point the source at a file",
        )
    return files


def _is_data_file(path: Path) -> bool:
    return not path.name.startswith(".") and path.name.endswith(DATA_SUFFIXES) and path.is_file()


def _ingest_file(path: Path, root: Path) -> RawFile:
    """Hash first; copy into the cache only when the object is not there yet."""
    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise SourceError(
            f"cannot read source file {path}: {exc.strerror}", fix="check the file's permissions"
        ) from exc
    target = layout.raw_object_path(root, sha)
    if target.is_file():
        return RawFile(path.name, sha, target.stat().st_size, target)
    sha, size, target = store_stream(root, iter_file(path))
    return RawFile(path.name, sha, size, target)


def _record(
    root: Path,
    source: str,
    files: list[RawFile],
    previous: dict[str, Any] | None,
    clock: Callable[[], datetime],
    etag: str | None,
    last_modified: str | None,
    *,
    single: bool,
) -> RawVersion:
    """Return the previous version when unchanged, else append a new manifest entry."""
    digest = raw_digest(files)
    if previous is not None and previous.get("digest") == digest:
        return _version_from_entry(root, previous, new=False)
    version = RawVersion(
        source, tuple(files), digest, _iso_utc(clock()), etag, last_modified, new=True
    )
    append_fetch_manifest(root, _entry(version, single=single))
    return version


def _entry(version: RawVersion, *, single: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source": version.source,
        "digest": version.digest,
        "files": [{"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for f in version.files],
        "fetched_at": version.fetched_at,
        "etag": version.etag,
        "last_modified": version.last_modified,
    }
    if single:
        entry["sha256"] = version.files[0].sha256
        entry["bytes"] = version.files[0].bytes
    return entry


def _version_from_entry(root: Path, entry: dict[str, Any], *, new: bool) -> RawVersion:
    try:
        files = tuple(
            RawFile(
                f["name"], f["sha256"], int(f["bytes"]), layout.raw_object_path(root, f["sha256"])
            )
            for f in entry["files"]
        )
        return RawVersion(
            entry["source"],
            files,
            entry["digest"],
            entry["fetched_at"],
            entry.get("etag"),
            entry.get("last_modified"),
            new,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(
            f"fetch manifest entry for {entry.get('source')!r} is malformed ({exc!r})",
            fix="delete the fetch manifest to re-fetch every source",
        ) from exc


def _objects_present(root: Path, entry: dict[str, Any]) -> bool:
    files = entry.get("files") or []
    return bool(files) and all(layout.raw_object_path(root, f["sha256"]).is_file() for f in files)


def _iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- HTTP -------------------------------------------------------------------------------------


def _fetch_http(
    url: str,
    root: Path,
    previous: dict[str, Any] | None,
    timeout_s: float,
    retries: int,
    transport: httpx.BaseTransport | None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> RawVersion:
    reusable = previous if previous is not None and _objects_present(root, previous) else None
    headers = _conditional_headers(reusable)
    client = httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=True)
    with client:
        download = _get_with_retries(client, url, root, headers, timeout_s, retries, sleep)
    if download.file is None:
        if reusable is None:
            raise SourceError(
                f"{url} answered 304 Not Modified to a request without validators",
                fix="check the server's caching configuration",
            )
        return _version_from_entry(root, reusable, new=False)
    return _record(
        root,
        url,
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
            reason = f"{type(exc).__name__}: {exc}"
        except _Retryable as exc:
            reason = str(exc)
        except (httpx.InvalidURL, httpx.RequestError) as exc:
            raise SourceError(f"could not fetch {url}: {exc}", fix="check the URL") from exc
    raise SourceError(f"could not fetch {url} in {attempts} attempts: {reason}", fix=RETRY_FIX)


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
                f"could not fetch {url}: HTTP {status} {response.reason_phrase}",
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
