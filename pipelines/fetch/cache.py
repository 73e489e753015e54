"""Content-addressed raw cache and the append-only fetch manifest.

Layout (every name comes from ``snapsearch.format.layout``)::

    <root>/_raw/objects/<sha256>     raw bytes, written once, never rewritten (read-only)
    <root>/_raw/fetch-manifest.jsonl one JSON line per new raw version, oldest first

Every write goes to a temp file in the target directory, is fsynced and then ``os.replace``d.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from snapsearch.format import faults, layout
from snapsearch.format.errors import StoreError
from snapsearch.format.hashing import fsync_dir

CHUNK = 1 << 20


def iter_file(path: Path, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield a file's bytes in chunks."""
    with open(path, "rb") as f:
        while data := f.read(chunk):
            yield data


def store_stream(root: Path, chunks: Iterable[bytes]) -> tuple[str, int, Path]:
    """Write ``chunks`` into the cache while hashing; return (sha256, bytes, object path).

    An object that already exists is left untouched; the temp file is removed on any error.
    """
    directory = layout.raw_objects_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=layout.TMP_PREFIX)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as f:
            for data in chunks:
                h.update(data)
                size += len(data)
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        faults.point("fetch.written")  # the object's bytes are in a temp file, not yet named
        sha = h.hexdigest()
        target = directory / sha
        if target.exists():
            tmp.unlink()
        else:
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            fsync_dir(directory)
        return sha, size, target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_fetch_manifest(root: Path) -> list[dict[str, Any]]:
    """All fetch-manifest entries, oldest first (empty when nothing was fetched yet)."""
    path = layout.fetch_manifest_path(root)
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"fetch manifest {path} line {lineno} is not valid JSON: {exc.msg}",
                fix="restore the file from backup or delete it to re-fetch every source",
            ) from exc
        if not isinstance(entry, dict):
            raise StoreError(
                f"fetch manifest {path} line {lineno} is not a JSON object",
                fix="restore the file from backup or delete it to re-fetch every source",
            )
        entries.append(entry)
    return entries


def latest_entry(root: Path, source: str) -> dict[str, Any] | None:
    """The newest manifest entry for ``source`` (compared as configured), or None."""
    for entry in reversed(read_fetch_manifest(root)):
        if entry.get("source") == source:
            return entry
    return None


def append_fetch_manifest(root: Path, entry: dict[str, Any]) -> None:
    """Append one entry atomically (rewrite to a temp file, fsync, ``os.replace``)."""
    path = layout.fetch_manifest_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_bytes() if path.exists() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=layout.TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(existing + line)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
