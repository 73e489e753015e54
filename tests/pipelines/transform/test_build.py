"""Building a snapshot: the manifest records everything, the cache works, builds reproduce."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipelines.fetch import fetch_source
from pipelines.transform.build import (
    BuildOptions,
    CollectionSpec,
    build_options,
    build_snapshot,
    current_inputs_digest,
    inputs_digest,
)
from pipelines.transform.records import RejectRateError
from snapsearch.format import layout, links
from snapsearch.format.ann import HnswIndex
from snapsearch.format.errors import SnapshotError
from snapsearch.format.hashing import sha256_file
from snapsearch.format.manifest import HnswSettings, ModelPin
from snapsearch.format.model import HashingEncoder, Progress
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import get_kind
from snapsearch.settings import PipelineSettings
from tests.conftest import build_from, sample_records, write_jsonl

SEALED = ("records.sqlite", "vectors_parts.npy", "ann_parts.hnsw")


class CountingEncoder:
    """Wraps an encoder and counts the texts it is asked to encode."""

    def __init__(self, inner: HashingEncoder) -> None:
        self.inner = inner
        self.encoded = 0

    @property
    def pin(self) -> ModelPin:
        return self.inner.pin

    def encode(self, texts: Sequence[str], *, batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)


@dataclass(frozen=True)
class FakeRaw:
    source: str
    digest: str
    files: tuple = ()


def leftovers(root: Path) -> list[str]:
    """Snapshot or temp directories at the top of the store."""
    return sorted(p.name for p in root.iterdir()
                  if layout.is_snapshot_id(p.name) or p.name.startswith(layout.TMP_PREFIX))


# -- the manifest ----------------------------------------------------------------------------
def test_manifest_pins_the_model(built, hash_encoder):
    m = built.manifest.model
    pin = hash_encoder.pin
    assert m == pin
    assert (m.model_id, m.weights_digest, m.dim) == (pin.model_id, pin.weights_digest, 64)
    assert m.canary.vector == pin.canary.vector and len(m.canary.vector) == 64


def test_manifest_records_settings_sources_and_collections(built, parts_file):
    m = built.manifest
    assert m.hnsw == PipelineSettings().hnsw
    assert m.settings == PipelineSettings().build_fingerprint()
    assert len(m.sources) == 1
    src = m.sources[0]
    assert src.name == "parts:parts.jsonl"
    assert src.uri == str(parts_file)
    assert src.sha256 == sha256_file(parts_file)
    assert src.bytes == parts_file.stat().st_size
    assert src.records == 301
    info = m.collections["parts"]
    assert info.kind == "parts"
    assert info.template == get_kind("parts").template
    assert (info.records, info.rejects) == (301, 0)
    assert built.records == 301 and built.rejects == 0
    assert m.built_at.endswith("Z")
    assert layout.parse_snapshot_id(built.snapshot_id).matches(m.inputs_digest)
    assert built.path == built.path.parent / built.snapshot_id
    assert set(built.timings) >= {"parse_s", "encode_s", "index_s", "seal_s"}


def test_hnsw_settings_recorded(tmp_path, parts_file, hash_encoder):
    s = PipelineSettings(hnsw=HnswSettings(M=8, ef_construction=50, ef_search=40, seed=3))
    result = build_from(parts_file, tmp_path / "store", hash_encoder, settings=s)
    assert result.manifest.hnsw == HnswSettings(M=8, ef_construction=50, ef_search=40, seed=3)
    assert result.manifest.settings["hnsw"]["M"] == 8


# -- embedding cache -------------------------------------------------------------------------
def test_second_build_reuses_every_embedding(tmp_path, parts_file, hash_encoder):
    root = tmp_path / "store"
    counting = CountingEncoder(hash_encoder)
    first = build_from(parts_file, root, counting)
    assert (first.reused, first.encoded) == (0, first.records)
    counted = counting.encoded
    second = build_from(parts_file, root, counting)
    assert (second.reused, second.encoded) == (second.records, 0)
    assert counting.encoded == counted
    assert second.snapshot_id != first.snapshot_id


def test_changed_records_are_the_only_ones_encoded(tmp_path, hash_encoder):
    root = tmp_path / "store"
    records = sample_records()
    src = write_jsonl(tmp_path / "parts.jsonl", records)
    counting = CountingEncoder(hash_encoder)
    build_from(src, root, counting)
    edited = copy.deepcopy(records)
    for i in (3, 50, 200):
        edited[i]["description"] += " revised"
    write_jsonl(src, edited)
    before = counting.encoded
    result = build_from(src, root, counting)
    assert result.encoded == 3
    assert result.reused == result.records - 3
    assert counting.encoded - before == 3


def test_encoded_count_matches_what_the_encoder_did(tmp_path, hash_encoder):
    records = sample_records(20)
    twin = copy.deepcopy(records[5]) | {"lcsc": "C999999999"}  # same part text, another listing
    src = write_jsonl(tmp_path / "parts.jsonl", [*records, twin])
    counting = CountingEncoder(hash_encoder)
    result = build_from(src, tmp_path / "store", counting)
    assert result.records == len(records) + 1
    assert result.encoded == counting.encoded


# -- reproducibility -------------------------------------------------------------------------
@pytest.mark.parametrize("same_root", [False, True], ids=["two-roots", "one-root"])
def test_builds_are_byte_reproducible(tmp_path, parts_file, hash_encoder, same_root):
    a = build_from(parts_file, tmp_path / "a", hash_encoder)
    b = build_from(parts_file, tmp_path / ("a" if same_root else "b"), hash_encoder)
    assert a.path != b.path
    for name in SEALED:
        assert sha256_file(a.path / name) == sha256_file(b.path / name), name
    ma = a.manifest.model_dump(mode="json")
    mb = b.manifest.model_dump(mode="json")
    differ = sorted(k for k in ma if ma[k] != mb[k])
    assert differ == ["built_at", "snapshot_id"]


def test_snapshot_id_from_the_build_clock(tmp_path, parts_file, hash_encoder):
    root = tmp_path / "store"
    raw = fetch_source(str(parts_file), root)
    now = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    result = build_snapshot(root, [CollectionSpec("parts", "parts", raw)], hash_encoder,
                            build_options(PipelineSettings()), now=now)
    assert result.snapshot_id.startswith("20240506T070809123456Z-")
    assert result.manifest.built_at == "2024-05-06T07:08:09.123456Z"


# -- inputs digest ---------------------------------------------------------------------------
def test_inputs_digest_tracks_what_changes_the_bytes():
    spec = [CollectionSpec("parts", "parts", FakeRaw("/a.jsonl", "d1"))]
    base = inputs_digest(spec, BuildOptions(), "fp")
    # same inputs, or changes that do not change the bytes: same digest
    assert inputs_digest(spec, BuildOptions(), "fp") == base
    moved = [CollectionSpec("parts", "parts", FakeRaw("/elsewhere/a.jsonl", "d1"))]
    assert inputs_digest(moved, BuildOptions(), "fp") == base
    assert inputs_digest(spec, BuildOptions(batch_size=7), "fp") == base
    # changes that do
    assert inputs_digest(spec, BuildOptions(hnsw=HnswSettings(M=32)), "fp") != base
    assert inputs_digest(spec, BuildOptions(hnsw=HnswSettings(seed=1)), "fp") != base
    assert inputs_digest(spec, BuildOptions(hnsw=HnswSettings(ef_construction=100)), "fp") != base
    changed = [CollectionSpec("parts", "parts", FakeRaw("/a.jsonl", "d2"))]
    assert inputs_digest(changed, BuildOptions(), "fp") != base
    assert inputs_digest(spec, BuildOptions(), "other-fp") != base
    assert inputs_digest(spec, BuildOptions(max_reject_rate=0.5), "fp") != base
    renamed = [CollectionSpec("items", "parts", FakeRaw("/a.jsonl", "d1"))]
    assert inputs_digest(renamed, BuildOptions(), "fp") != base


def test_inputs_digest_of_real_builds(tmp_path, parts_file, hash_encoder):
    root = tmp_path / "store"
    a = build_from(parts_file, root, hash_encoder)
    b = build_from(parts_file, root, hash_encoder)
    assert a.manifest.inputs_digest == b.manifest.inputs_digest
    s = PipelineSettings(hnsw=HnswSettings(M=12))
    c = build_from(parts_file, root, hash_encoder, settings=s)
    assert c.manifest.inputs_digest != a.manifest.inputs_digest
    records = sample_records()
    records[0]["description"] += " changed"
    write_jsonl(parts_file, records)
    d = build_from(parts_file, root, hash_encoder)
    assert d.manifest.inputs_digest not in {a.manifest.inputs_digest, c.manifest.inputs_digest}


def test_current_inputs_digest(tmp_path, built):
    root = built.path.parent
    assert current_inputs_digest(root) is None
    assert current_inputs_digest(tmp_path / "no-such-store") is None
    links.flip(root, layout.CURRENT, built.snapshot_id)
    assert current_inputs_digest(root) == built.manifest.inputs_digest


def test_current_inputs_digest_with_a_dangling_or_broken_current(tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    os.symlink("20240101T000000000000Z-deadbeef", root / layout.CURRENT)
    assert current_inputs_digest(root) is None
    (root / "20240101T000000000000Z-deadbeef").mkdir()
    (root / "20240101T000000000000Z-deadbeef" / layout.MANIFEST).write_text("{", encoding="utf-8")
    assert current_inputs_digest(root) is None


# -- failures leave nothing ------------------------------------------------------------------
def test_failure_mid_build_leaves_nothing(tmp_path, parts_file, hash_encoder, monkeypatch):
    def boom(*_args: object, **_kwargs: object) -> HnswIndex:
        raise RuntimeError("index build failed")

    monkeypatch.setattr(HnswIndex, "build", boom)
    root = tmp_path / "store"
    with pytest.raises(RuntimeError, match="index build failed"):
        build_from(parts_file, root, hash_encoder)
    assert leftovers(root) == []
    assert layout.list_snapshot_dirs(root) == []


def test_too_many_rejects_leave_nothing(tmp_path, hash_encoder):
    records = sample_records(20)
    records[0]["lcsc"] = "X1"
    records[1]["stock"] = "many"
    src = write_jsonl(tmp_path / "bad.jsonl", records)
    root = tmp_path / "store"
    with pytest.raises(RejectRateError, match="2 of 2[0-9] records rejected"):
        build_from(src, root, hash_encoder)
    assert leftovers(root) == []


def test_rejects_within_the_limit_are_recorded(tmp_path, hash_encoder):
    records = sample_records(20)
    records[0]["lcsc"] = "X1"
    src = write_jsonl(tmp_path / "some-bad.jsonl", records)
    result = build_from(src, tmp_path / "store", hash_encoder,
                        settings=PipelineSettings(max_reject_rate=0.1))
    assert result.rejects == 1
    assert result.manifest.collections["parts"].rejects == 1
    assert result.manifest.tables["rejects[parts]"] == 1
    snap = open_snapshot(result.path)
    try:
        (reason,) = snap.conn.execute(f"SELECT reason FROM {layout.REJECTS_TABLE}").fetchone()
        assert "'X1' is not an LCSC id" in reason
    finally:
        snap.close()


def test_no_collections_is_an_error(tmp_path, hash_encoder):
    with pytest.raises(SnapshotError, match="no collections"):
        build_snapshot(tmp_path, [], hash_encoder, BuildOptions())


# -- several collections ---------------------------------------------------------------------
def test_two_collections_in_one_snapshot(tmp_path, parts_file, hash_encoder):
    root = tmp_path / "store"
    docs = [{"_id": f"doc{i}", "title": f"Datasheet note {i}", "text": f"How to pick part {i}."}
            for i in range(15)]
    docs.append({"_id": 99, "title": "", "text": "Integer ids become strings."})
    docs_file = write_jsonl(tmp_path / "corpus.jsonl", docs)
    specs = [
        CollectionSpec("parts", "parts", fetch_source(str(parts_file), root)),
        CollectionSpec("docs", "text", fetch_source(str(docs_file), root)),
    ]
    result = build_snapshot(root, specs, hash_encoder, build_options(PipelineSettings()))
    m = result.manifest
    assert set(m.collections) == {"parts", "docs"}
    assert m.collections["docs"].kind == "text" and m.collections["docs"].records == 16
    assert m.collections["parts"].kind == "parts" and m.collections["parts"].records == 301
    assert result.records == 317
    assert [s.name for s in m.sources] == ["parts:parts.jsonl", "docs:corpus.jsonl"]
    assert {layout.vectors_file("docs"), layout.ann_file("docs")} <= set(m.files)
    snap = open_snapshot(result.path, checksums=True)
    try:
        docs_coll = snap.collection("docs")
        assert docs_coll.count == 16
        assert docs_coll.detail("doc3") == {"id": "doc3", "title": "Datasheet note 3",
                                            "text": "How to pick part 3."}
        assert docs_coll.pos_of("99") is not None
        parts_coll = snap.collection("parts")
        assert parts_coll.detail("C25744")["mfr_part"] == "0402WGF1002TCE"
        assert parts_coll.detail("doc3") is None and docs_coll.detail("C25744") is None
        q = hash_encoder.encode(["Datasheet note 7. How to pick part 7."])[0]
        pos, _ = docs_coll.ann.query(q, 1)
        summary = json.loads(docs_coll.rows(pos)[int(pos[0])]["summary"])
        assert summary["title"] == "Datasheet note 7"
    finally:
        snap.close()
