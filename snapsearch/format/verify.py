"""Verification: every file the manifest lists is there, with its size and (fully) its sha256."""

from __future__ import annotations

from pathlib import Path

from . import layout
from .errors import IntegrityError
from .hashing import sha256_file
from .manifest import Manifest, read_manifest


def find_problems(snapshot_dir: Path, manifest: Manifest, *, checksums: bool) -> list[str]:
    problems: list[str] = []
    for name, entry in sorted(manifest.files.items()):
        p = snapshot_dir / name
        if not p.is_file():
            problems.append(f"{name}: missing")
            continue
        size = p.stat().st_size
        if size != entry.bytes:
            problems.append(f"{name}: {size} bytes, manifest says {entry.bytes}")
            continue
        if checksums and sha256_file(p) != entry.sha256:
            problems.append(f"{name}: sha256 differs from the manifest")
    listed = set(manifest.files) | {layout.MANIFEST, layout.GATES}
    for p in sorted(snapshot_dir.iterdir()):
        if p.name not in listed:
            problems.append(f"{p.name}: not in the manifest")
    return problems


def verify_snapshot(snapshot_dir: Path, *, checksums: bool = True) -> Manifest:
    """Raise IntegrityError (naming the snapshot and each problem) unless the snapshot is sound."""
    manifest = read_manifest(snapshot_dir)
    problems = find_problems(snapshot_dir, manifest, checksums=checksums)
    if problems:
        raise IntegrityError(
            f"snapshot {snapshot_dir} failed verification: " + "; ".join(problems),
            fix="rebuild it with `snapsearch run --force` "
                "(snapshots are immutable: never edit one)",
        )
    return manifest
