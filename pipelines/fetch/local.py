"""Local sources: a file, or a directory of data files, hashed into the raw cache."""

from __future__ import annotations

from pathlib import Path

from snapsearch.format import layout
from snapsearch.format.errors import SourceError
from snapsearch.format.hashing import sha256_file

from .cache import iter_file, store_stream
from .raw import RawFile

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv")


def ingest_path(path: Path, root: Path, source: str) -> tuple[list[RawFile], bool]:
    """The raw files of a local file or directory (sorted by name); True for a single file."""
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
