"""Manifest schema: round trip, every read error names the path or field, the model fingerprint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ManifestError
from snapsearch.format.manifest import (
    SCHEMA_VERSION,
    CollectionInfo,
    FileEntry,
    FusionSettings,
    HnswSettings,
    Manifest,
    SourceEntry,
    read_manifest,
    seal_line,
    seal_problem,
    write_manifest,
)
from snapsearch.format.model import HashingEncoder

SNAPSHOT_ID = "20240101T000000000000Z-deadbeef"


def make_manifest() -> Manifest:
    return Manifest(
        snapshot_id=SNAPSHOT_ID,
        built_at="2024-01-01T00:00:00Z",
        builder_version="0.1.0",
        inputs_digest="ab" * 32,
        sources=[SourceEntry(name="parts:p.jsonl", uri="/data/p.jsonl", sha256="cd" * 32,
                             bytes=123, records=3)],
        model=HashingEncoder(16).pin,
        hnsw=HnswSettings(M=8, ef_construction=64, seed=7),
        fusion=FusionSettings(method="rrf", rrf_k=30),
        collections={
            "parts": CollectionInfo(
                kind="parts", kind_version=1, template="{x}", lexical_fields={"x": 1.0},
                filter_columns={"stock": "integer"}, summary_fields=["x"], records=3, rejects=0,
                tokenizer="unicode61",
            )
        },
        tables={"lookup_parts": 3},
        files={"records.sqlite": FileEntry(sha256="ef" * 32, bytes=4096)},
        settings={"kind": "parts"},
    )


def write_sealed(directory: Path, text: str) -> Path:
    """``text`` as the manifest, sealed (as another builder would have written it)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / layout.MANIFEST).write_text(text, encoding="utf-8")
    (directory / layout.SEAL).write_text(seal_line(text.encode()), encoding="ascii")
    return directory


def write_raw(directory: Path, data: object) -> Path:
    return write_sealed(directory, json.dumps(data))


def test_round_trip(tmp_path):
    m = make_manifest()
    write_manifest(tmp_path, m)
    back = read_manifest(tmp_path)
    assert back == m
    assert back.schema_version == SCHEMA_VERSION
    assert back.to_json() == m.to_json()


def test_to_json_is_stable_and_sorted():
    text = make_manifest().to_json()
    assert text.endswith("\n")
    data = json.loads(text)
    assert list(data) == sorted(data)


def test_missing_manifest_names_the_path(tmp_path):
    with pytest.raises(ManifestError) as exc:
        read_manifest(tmp_path)
    assert str(tmp_path / layout.MANIFEST) in exc.value.message
    assert exc.value.fix


def test_bad_json_names_the_path(tmp_path):
    write_sealed(tmp_path, "{not json")
    with pytest.raises(ManifestError, match="not readable JSON") as exc:
        read_manifest(tmp_path)
    assert str(tmp_path / layout.MANIFEST) in exc.value.message


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "1", None])
def test_wrong_schema_version(tmp_path, version):
    data = json.loads(make_manifest().to_json())
    data["schema_version"] = version
    with pytest.raises(ManifestError, match="schema_version") as exc:
        read_manifest(write_raw(tmp_path, data))
    assert repr(version) in exc.value.message
    assert str(tmp_path / layout.MANIFEST) in exc.value.message


def test_not_an_object(tmp_path):
    with pytest.raises(ManifestError, match="schema_version"):
        read_manifest(write_raw(tmp_path, [1, 2, 3]))


@pytest.mark.parametrize(
    ("path", "named"),
    [(("inputs_digest",), "inputs_digest"), (("model", "dim"), "model.dim"),
     (("files", "records.sqlite", "sha256"), "files.records.sqlite.sha256")],
)
def test_missing_field_is_named(tmp_path, path, named):
    data = json.loads(make_manifest().to_json())
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(ManifestError) as exc:
        read_manifest(write_raw(tmp_path, data))
    assert repr(named) in exc.value.message
    assert str(tmp_path / layout.MANIFEST) in exc.value.message


def test_wrong_type_is_named(tmp_path):
    data = json.loads(make_manifest().to_json())
    data["tables"]["lookup_parts"] = "many"
    with pytest.raises(ManifestError, match="tables.lookup_parts"):
        read_manifest(write_raw(tmp_path, data))


@pytest.mark.parametrize("where", [(), ("hnsw",), ("model", "canary")])
def test_extra_field_rejected(tmp_path, where):
    data = json.loads(make_manifest().to_json())
    node = data
    for key in where:
        node = node[key]
    node["surprise"] = 1
    with pytest.raises(ManifestError, match="surprise"):
        read_manifest(write_raw(tmp_path, data))


def test_manifest_is_frozen():
    m = make_manifest()
    with pytest.raises(ValueError):
        m.snapshot_id = "other"  # type: ignore[misc]


def test_fingerprint_tracks_what_changes_vectors():
    pin = HashingEncoder(16).pin
    fp = pin.fingerprint
    assert pin.model_copy(update={"weights_digest": "0" * 64}).fingerprint != fp
    assert pin.model_copy(update={"dim": 32}).fingerprint != fp
    assert pin.model_copy(update={"model_id": "other"}).fingerprint != fp
    assert pin.model_copy(update={"normalize": False}).fingerprint != fp
    assert pin.model_copy(update={"max_seq_length": 256}).fingerprint != fp
    # library versions and the canary are checked separately, not part of the fingerprint
    assert pin.model_copy(update={"versions": {"torch": "9.9"}}).fingerprint == fp
    assert pin.model_copy(update={"revision": "2"}).fingerprint == fp
    assert HashingEncoder(16).pin.fingerprint == fp
    assert HashingEncoder(32).pin.fingerprint != fp


# -- the seal: the manifest's own bytes are verified before any field is read -----------------


def test_seal_is_a_sha256sum_line(tmp_path):
    write_manifest(tmp_path, make_manifest())
    seal = (tmp_path / layout.SEAL).read_text(encoding="ascii")
    digest, name = seal.rstrip("\n").split("  ")
    assert name == layout.MANIFEST and len(digest) == 64 and seal.endswith("\n")
    assert hashlib.sha256((tmp_path / layout.MANIFEST).read_bytes()).hexdigest() == digest


def test_missing_seal_is_refused(tmp_path):
    write_manifest(tmp_path, make_manifest())
    (tmp_path / layout.SEAL).unlink()
    with pytest.raises(IntegrityError, match=f"{layout.SEAL}: missing"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("field", [("fusion", "alpha", 0.9), ("hnsw", "ef_search", 16),
                                   ("fusion", "method", "convex")])
def test_an_edited_value_is_refused_naming_the_manifest(tmp_path, field):
    write_manifest(tmp_path, make_manifest())
    data = json.loads((tmp_path / layout.MANIFEST).read_text(encoding="utf-8"))
    data[field[0]][field[1]] = field[2]
    (tmp_path / layout.MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    with pytest.raises(IntegrityError, match=f"{layout.MANIFEST}: sha256 differs from its seal"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("seal", [
    "", "0" * 64 + "  manifest.json\n", "not a seal\n", "{d}  other.json\n",
    "{d} manifest.json\n", "{D}  manifest.json\n", "{d}  manifest.json", "{d}  manifest.json\n\n",
])
def test_a_damaged_seal_is_refused(tmp_path, seal):
    write_manifest(tmp_path, make_manifest())
    good = (tmp_path / layout.SEAL).read_text(encoding="ascii").split()[0]
    (tmp_path / layout.SEAL).write_text(seal.format(d=good, D=good.upper()), encoding="ascii")
    with pytest.raises(IntegrityError, match=layout.SEAL + "|sha256 differs from its seal"):
        read_manifest(tmp_path)


def test_the_manifest_is_bound_to_its_directory_name(tmp_path):
    m = make_manifest()
    other = "20240101T000000000000Z-00000000"
    (tmp_path / SNAPSHOT_ID).mkdir()
    write_manifest(tmp_path / SNAPSHOT_ID, m)
    assert read_manifest(tmp_path / SNAPSHOT_ID) == m
    (tmp_path / SNAPSHOT_ID).rename(tmp_path / other)
    with pytest.raises(IntegrityError, match=f"manifest is for snapshot '{SNAPSHOT_ID}'"):
        read_manifest(tmp_path / other)
    # a build's temp directory is named for its id too
    (tmp_path / other).rename(tmp_path / f"{layout.TMP_PREFIX}{SNAPSHOT_ID}")
    assert read_manifest(tmp_path / f"{layout.TMP_PREFIX}{SNAPSHOT_ID}") == m


def test_source_uris_are_recorded_redacted():
    entry = SourceEntry(
        name="parts:p.jsonl", uri="https://bob:hunter2@example.com/p.jsonl?token=t0k",
        sha256="cd" * 32, bytes=1,
    )
    assert entry.uri == "https://***@example.com/p.jsonl?token=***"


def test_every_byte_of_a_real_manifest_and_its_seal_is_covered(built):
    """The sweep (issue 11: a quarter of single-byte edits used to pass): each byte of a built
    snapshot's manifest and of its seal changed in turn, two ways; every one is refused."""
    data = (built.path / layout.MANIFEST).read_bytes()
    seal = (built.path / layout.SEAL).read_bytes()
    assert seal_problem(data, seal) is None
    missed = []
    for name, blob in ((layout.MANIFEST, data), (layout.SEAL, seal)):
        for i in range(len(blob)):
            for new in {blob[i] ^ 0x01, ord("0") if blob[i] != ord("0") else ord("1")}:
                changed = bytearray(blob)
                changed[i] = new
                pair = (bytes(changed), seal) if name == layout.MANIFEST else (data, bytes(changed))
                problem = seal_problem(*pair)
                if problem is None or name not in problem:
                    missed.append((name, i))
    assert missed == []
    assert len(data) > 1000  # a real manifest, not a stub
