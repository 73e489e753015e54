"""Manifest schema: round trip, every read error names the path or field, the model fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapsearch.format import layout
from snapsearch.format.errors import ManifestError
from snapsearch.format.manifest import (
    SCHEMA_VERSION,
    CollectionInfo,
    FileEntry,
    FusionSettings,
    HnswSettings,
    Manifest,
    SourceEntry,
    read_manifest,
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


def write_raw(directory: Path, data: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / layout.MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    return directory


def test_round_trip(tmp_path):
    m = make_manifest()
    (tmp_path / layout.MANIFEST).write_text(m.to_json(), encoding="utf-8")
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
    (tmp_path / layout.MANIFEST).write_text("{not json", encoding="utf-8")
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
