"""Verification: sizes always, sha256 when asked; every problem named; never writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ManifestError
from snapsearch.format.hashing import sha256_file
from snapsearch.format.reader import open_snapshot
from snapsearch.format.verify import find_problems, verify_snapshot

VECTORS = layout.vectors_file("parts")
ANN = layout.ann_file("parts")


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def state(directory: Path) -> dict[str, tuple[int, int, str]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size, sha256_file(p))
            for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("checksums", [True, False])
def test_sound_snapshot_passes(built, checksums):
    m = verify_snapshot(built.path, checksums=checksums)
    assert m == built.manifest
    assert find_problems(built.path, m, checksums=checksums) == []


def test_gate_report_is_allowed_beside_the_manifest(built):
    (built.path / layout.GATES).write_text("{}", encoding="utf-8")
    verify_snapshot(built.path)


def test_flipped_byte_caught_by_checksums_only(built):
    flip_last_byte(built.path / VECTORS)
    with pytest.raises(IntegrityError) as exc:
        verify_snapshot(built.path, checksums=True)
    assert f"{VECTORS}: sha256 differs" in exc.value.message
    assert str(built.path) in exc.value.message
    assert exc.value.fix
    # sizes only: the same length passes
    verify_snapshot(built.path, checksums=False)


def test_flipped_byte_refused_by_open_with_checksums(built):
    flip_last_byte(built.path / layout.SQLITE)
    with pytest.raises(IntegrityError, match=layout.SQLITE):
        open_snapshot(built.path, checksums=True)


@pytest.mark.parametrize("name", [VECTORS, ANN, layout.SQLITE])
def test_truncated_file_caught_without_checksums(built, name):
    p = built.path / name
    size = p.stat().st_size
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(IntegrityError) as exc:
        verify_snapshot(built.path, checksums=False)
    assert f"{name}: {size - 1} bytes, manifest says {size}" in exc.value.message
    with pytest.raises(IntegrityError, match=name):
        open_snapshot(built.path)


def test_missing_file_named(built):
    (built.path / ANN).unlink()
    with pytest.raises(IntegrityError, match=f"{ANN}: missing"):
        verify_snapshot(built.path, checksums=False)


def test_extra_file_named(built):
    (built.path / "stray.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(IntegrityError, match="stray.txt: not in the manifest"):
        verify_snapshot(built.path)


def test_every_problem_reported_at_once(built):
    (built.path / ANN).unlink()
    (built.path / "stray.txt").write_text("hi", encoding="utf-8")
    flip_last_byte(built.path / VECTORS)
    problems = find_problems(built.path, built.manifest, checksums=True)
    assert problems == [
        f"{ANN}: missing",
        f"{VECTORS}: sha256 differs from the manifest",
        "stray.txt: not in the manifest",
    ]


def test_missing_manifest_is_a_manifest_error(built):
    (built.path / layout.MANIFEST).unlink()
    with pytest.raises(ManifestError, match=layout.MANIFEST):
        verify_snapshot(built.path)


def test_manifest_lies_about_a_size(built):
    data = json.loads((built.path / layout.MANIFEST).read_text(encoding="utf-8"))
    data["files"][VECTORS]["bytes"] += 1
    (built.path / layout.MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IntegrityError, match=VECTORS):
        verify_snapshot(built.path, checksums=False)


def test_verify_never_modifies_files(built):
    before = state(built.path)
    verify_snapshot(built.path, checksums=True)
    verify_snapshot(built.path, checksums=False)
    assert state(built.path) == before
    # nor does a failing verification
    (built.path / "stray.txt").write_text("hi", encoding="utf-8")
    before = state(built.path)
    with pytest.raises(IntegrityError):
        verify_snapshot(built.path)
    assert state(built.path) == before
