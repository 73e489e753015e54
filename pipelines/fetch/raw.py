"""What a fetch yields: raw files in the content-addressed cache and the version they form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from snapsearch.format.hashing import sha256_text


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


def raw_digest(files: tuple[RawFile, ...] | list[RawFile]) -> str:
    """sha256 over the (name, sha256) pairs sorted by name: identifies a raw version."""
    pairs = sorted([f.name, f.sha256] for f in files)
    return sha256_text(json.dumps(pairs, separators=(",", ":")))
