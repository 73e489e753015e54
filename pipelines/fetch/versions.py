"""Recording raw versions: one fetch-manifest entry per new version, none for an unchanged one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from snapsearch.format import layout
from snapsearch.format.errors import StoreError

from .cache import append_fetch_manifest
from .raw import RawFile, RawVersion, raw_digest


def record_version(
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
        return version_from_entry(root, previous, new=False)
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


def version_from_entry(root: Path, entry: dict[str, Any], *, new: bool) -> RawVersion:
    """The RawVersion a fetch-manifest entry records; StoreError when the entry is malformed."""
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


def objects_present(root: Path, entry: dict[str, Any]) -> bool:
    """Whether every file of a manifest entry is still in the cache."""
    files = entry.get("files") or []
    return bool(files) and all(layout.raw_object_path(root, f["sha256"]).is_file() for f in files)


def _iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
