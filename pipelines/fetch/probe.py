"""Has a source changed? A cheap probe for the sensor, never a download just to compare.

- A local file or directory: the raw digest the fetch stage would record (sha256 of each data
  file, by name), recomputed only for files whose size or mtime changed since the last probe.
- An http(s) URL: ``HEAD`` and its ``ETag`` / ``Last-Modified``; a server that refuses HEAD
  gets a conditional ``GET`` (``If-None-Match`` / ``If-Modified-Since``) whose body is never
  read (a 304 says unchanged; a 200's headers say what it is now). A server that sends neither
  validator cannot be probed: the nightly schedule covers it.

A probe's ``fingerprint`` compares to the one of the version last fetched (``recorded``, from
the fetch manifest), so the first probe of a store already knows whether a run is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from snapsearch.format.errors import SourceError
from snapsearch.format.hashing import sha256_file

from .cache import latest_entry
from .local import _data_files
from .raw import RawFile, raw_digest


@dataclass(frozen=True)
class Probe:
    fingerprint: str | None  # None: cannot tell without a download
    memo: dict[str, Any] = field(default_factory=dict)  # saved in the sensor's cursor


def is_http(source: str) -> bool:
    return source.split("://", 1)[0].lower() in ("http", "https") if "://" in source else False


def recorded(root: Path, source: str) -> str | None:
    """The fingerprint of the version of ``source`` fetched last (None: never fetched)."""
    entry = latest_entry(root, source)
    if entry is None:
        return None
    if is_http(source):
        return http_fingerprint(entry.get("etag"), entry.get("last_modified"))
    return f"digest:{entry.get('digest')}"


def http_fingerprint(etag: str | None, last_modified: str | None) -> str | None:
    if etag:
        return f"etag:{etag}"
    if last_modified:
        return f"last-modified:{last_modified}"
    return None


def probe_source(
    source: str, *, memo: dict[str, Any] | None = None, previous: str | None = None,
    timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None,
) -> Probe:
    """What ``source`` is now (see the module's words). ``memo``: what the last probe kept;
    ``previous``: the fingerprint to send as a validator when HEAD is refused. SourceError
    when it cannot be reached."""
    if is_http(source):
        return _probe_http(source, previous, timeout_s, transport)
    return _probe_local(Path(source).expanduser(), memo or {})


def _probe_local(path: Path, memo: dict[str, Any]) -> Probe:
    if path.is_dir():
        files = _data_files(path)
    elif path.is_file():
        files = [path]
    else:
        raise SourceError(f"source {path} does not exist", fix="check SNAPSEARCH_SOURCE")
    known: dict[str, list[Any]] = memo.get("files", {})
    now: dict[str, list[Any]] = {}
    raws = []
    for p in files:
        st = os.stat(p)
        was = known.get(p.name)
        sha = was[2] if was and was[:2] == [st.st_size, st.st_mtime_ns] else sha256_file(p)
        now[p.name] = [st.st_size, st.st_mtime_ns, sha]
        raws.append(RawFile(p.name, sha, st.st_size, p))
    return Probe(f"digest:{raw_digest(raws)}", {"files": now})


def _probe_http(
    url: str, previous: str | None, timeout_s: float, transport: httpx.BaseTransport | None
) -> Probe:
    try:
        with httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=True) as c:
            head = c.head(url)
            if head.status_code not in (405, 501):
                _raise_for(head)
                return Probe(_validators(head))
            with c.stream("GET", url, headers=_conditional(previous)) as got:  # body unread
                if got.status_code == 304:
                    return Probe(previous)
                _raise_for(got)
                return Probe(_validators(got))
    except httpx.HTTPError as exc:
        raise SourceError(f"could not probe the source: {type(exc).__name__}",
                          fix="check the server is reachable") from None


def _validators(response: httpx.Response) -> str | None:
    return http_fingerprint(response.headers.get("ETag"), response.headers.get("Last-Modified"))


def _conditional(previous: str | None) -> dict[str, str]:
    if previous is None:
        return {}
    kind, _, value = previous.partition(":")
    return {"If-None-Match": value} if kind == "etag" else {"If-Modified-Since": value}


def _raise_for(response: httpx.Response) -> None:
    if not response.is_success:
        raise SourceError(
            f"probing the source answered HTTP {response.status_code}",
            fix="check the URL and the server",
        )
