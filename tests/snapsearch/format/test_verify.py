"""Verification: sizes always, sha256 when asked; every problem named; never writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ManifestError
from snapsearch.format.hashing import sha256_file
from snapsearch.format.manifest import seal_line
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


def test_a_gate_report_inside_the_snapshot_is_an_extra_file(built):
    # reports live in <root>/_gates/ now: nothing but what the manifest lists is inside
    (built.path / "gates.json").write_text("{}", encoding="utf-8")
    with pytest.raises(IntegrityError, match="gates.json: not in the manifest"):
        verify_snapshot(built.path)


def test_a_subdirectory_is_checked_too(built):
    (built.path / "extra").mkdir()
    (built.path / "extra" / "x.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError) as exc:
        verify_snapshot(built.path)
    assert "extra: not in the manifest" in exc.value.message
    assert "extra/x.bin: not in the manifest" in exc.value.message


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
    text = json.dumps(data)
    (built.path / layout.MANIFEST).write_text(text, encoding="utf-8")
    with pytest.raises(IntegrityError, match="manifest.json: sha256 differs from its seal"):
        verify_snapshot(built.path, checksums=False)
    # sealed again (a forger who knows the format): the file check still catches the lie
    (built.path / layout.SEAL).write_text(seal_line(text.encode()), encoding="ascii")
    with pytest.raises(IntegrityError, match=VECTORS):
        verify_snapshot(built.path, checksums=False)


def test_edited_weight_hash_in_the_pin_is_refused(built):
    """A per-file weight hash edited in the manifest (the digest left alone) used to pass."""
    path = built.path / layout.MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    (name,) = data["model"]["weights_sha256"]
    data["model"]["weights_sha256"][name] = "0" * 64
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with pytest.raises(IntegrityError, match="manifest.json: sha256 differs from its seal"):
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


# -- prehash: a server's start hashes while it imports; verification takes those digests ----


def _copy(built, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / built.path.name
    shutil.copytree(built.path, copy)
    return copy


def test_prehashed_files_are_not_read_again(built, tmp_path, monkeypatch):
    import snapsearch.format.verify as verify

    snap = _copy(built, tmp_path)
    verify.prehash(snap)
    for future in list(verify._early.values()):
        future.result()  # let every early digest finish first
    read: list[str] = []
    real = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda p: read.append(p.name) or real(p))
    assert verify_snapshot(snap, checksums=True) == built.manifest
    assert read == [layout.MANIFEST]  # the gate-report check hashes the manifest's bytes


def test_a_file_changed_after_its_prehash_is_hashed_again_and_refused(built, tmp_path):
    import snapsearch.format.verify as verify

    snap = _copy(built, tmp_path)
    verify.prehash(snap)
    for future in list(verify._early.values()):
        future.result()
    flip_last_byte(snap / VECTORS)  # same size; its stat changes
    with pytest.raises(IntegrityError, match=f"{VECTORS}: sha256 differs"):
        verify_snapshot(snap, checksums=True)


def test_a_file_damaged_before_its_prehash_is_refused(built, tmp_path):
    import snapsearch.format.verify as verify

    snap = _copy(built, tmp_path)
    flip_last_byte(snap / ANN)
    verify.prehash(snap)
    with pytest.raises(IntegrityError, match=f"{ANN}: sha256 differs"):
        verify_snapshot(snap, checksums=True)
