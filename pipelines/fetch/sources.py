"""Fetch a source (local file, local directory or http(s) URL) into the raw cache.

``fetch_source`` copies the raw bytes into the content-addressed cache and appends one line to
the fetch manifest per new raw version; an unchanged source writes nothing and returns the
version already recorded (``new=False``). No parsing happens here: ``local`` and ``download``
ingest, ``versions`` records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from pipelines.publish.runlock import run_lock
from snapsearch.format.errors import SourceError
from snapsearch.format.redact import redact_url

from .cache import latest_entry
from .download import fetch_http
from .local import ingest_path
from .raw import RawVersion
from .versions import record_version

HTTP_SCHEMES = ("http", "https")


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
    """Fetch ``source`` into ``<root>/_raw``; ``retries`` extra HTTP attempts after the first.

    The source is recorded (fetch manifest, ``RawVersion.source``, errors) redacted: a URL's
    credentials and secret query parameters never leave this function."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    clock = now or (lambda: datetime.now(UTC))
    shown = redact_url(source)
    scheme = _scheme(source)
    if scheme is not None and scheme not in HTTP_SCHEMES:
        raise SourceError(
            f"source {shown} has unsupported scheme {scheme!r}",
            fix="use a local file or directory, or an http(s) URL",
        )
    root.mkdir(parents=True, exist_ok=True)
    with run_lock(root):  # its temp files are leftovers to anyone else only once it died
        previous = latest_entry(root, shown)
        if scheme in HTTP_SCHEMES:
            return fetch_http(source, root, previous, timeout_s, retries, transport, clock, sleep)
        files, single = ingest_path(Path(source).expanduser(), root, source)
        return record_version(root, source, files, previous, clock, None, None, single=single)


def _scheme(source: str) -> str | None:
    if "://" not in source:
        return None
    return source.split("://", 1)[0].lower()
