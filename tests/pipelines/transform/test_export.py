"""The query encoder export at build time: into the snapshot, cached per model fingerprint,
re-exported when the cache is damaged; nothing for the hashing encoder; the build encoders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.transform.encoder import load_build_encoder, settings_encoder
from pipelines.transform.export import cache_key, externalize, query_encoder_files
from snapsearch.format import layout
from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.manifest import read_manifest
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import PipelineSettings
from tests.conftest import build_from, sample_records, write_jsonl
from tests.tiny_onnx import TinyOnnxEncoder


def test_an_unchanged_rebuild_reuses_the_export(tmp_path: Path) -> None:
    enc = TinyOnnxEncoder()
    src = write_jsonl(tmp_path / "parts.jsonl", sample_records(30))
    first = build_from(src, tmp_path / "store", enc)
    second = build_from(src, tmp_path / "store", enc)
    assert enc.exports == 1
    assert first.manifest.model.onnx == second.manifest.model.onnx
    entry = layout.onnx_cache_dir(tmp_path / "store", cache_key(enc.pin))
    assert (entry / layout.QUERY_ENCODER).is_file()
    for result in (first, second):
        assert read_manifest(result.path).model.onnx == first.manifest.model.onnx
        assert (result.path / layout.QUERY_ENCODER).read_bytes() == (
            entry / layout.QUERY_ENCODER
        ).read_bytes()


def test_a_damaged_cache_entry_is_exported_again(tmp_path: Path) -> None:
    enc = TinyOnnxEncoder()
    root = tmp_path / "store"
    first = query_encoder_files(enc, root)
    assert first.exported
    onnx_file = first.files[layout.QUERY_ENCODER]
    onnx_file.write_bytes(onnx_file.read_bytes()[:-1] + b"\x00")
    again = query_encoder_files(enc, root)
    assert again.exported and enc.exports == 2
    assert again.pin.onnx == first.pin.onnx  # the same graph, exported again
    meta = json.loads((onnx_file.parent / "export.json").read_text(encoding="utf-8"))
    assert meta["opset"] == 18 and "torch" in meta["exporter"]
    assert not query_encoder_files(enc, root).exported
    data_file = again.files[layout.QUERY_ENCODER_DATA]  # the graph's external data
    data_file.write_bytes(data_file.read_bytes()[:-1] + b"\x01")
    assert query_encoder_files(enc, root).exported and enc.exports == 3


def test_externalize_aligns_large_tensors_and_keeps_small_ones_inline(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    big = np.arange(40_000, dtype=np.float32).reshape(200, 200)  # 160 KB
    small = np.ones((200,), dtype=np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 200])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 200])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b"], ["g"]),
         helper.make_node("MatMul", ["g", "w2"], ["y"])],
        "g", [x], [y],
        initializer=[numpy_helper.from_array(big, "w1"), numpy_helper.from_array(small, "b"),
                     numpy_helper.from_array(big / 7, "w2")],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    feed = {"x": np.ones((1, 200), dtype=np.float32)}
    before = ort.InferenceSession(str(path)).run(None, feed)[0]
    assert externalize(path, "m.weights", min_bytes=64 * 1024, align=64 * 1024)
    model = onnx.load(str(path), load_external_data=False)
    where = {t.name: {e.key: e.value for e in t.external_data} for t in model.graph.initializer
             if t.data_location == TensorProto.EXTERNAL}
    assert set(where) == {"w1", "w2"}  # "b" (800 bytes) stays in the graph
    assert [int(w.get("offset", "0")) % (64 * 1024) for w in where.values()] == [0, 0]
    np.testing.assert_array_equal(ort.InferenceSession(str(path)).run(None, feed)[0], before)
    assert not externalize(path, "again.weights", min_bytes=10**9)
    assert not (tmp_path / "again.weights").exists()


def test_the_hashing_encoder_needs_no_files(tmp_path: Path) -> None:
    out = query_encoder_files(HashingEncoder(), tmp_path)
    assert out.files == {} and out.pin.query_encoder == "hashing" and not out.exported


def test_an_encoder_that_cannot_export_is_refused(tmp_path: Path) -> None:
    class Claims:
        pin = TinyOnnxEncoder().pin

        def encode(self, texts: object, **kw: object) -> None:
            raise AssertionError

    with pytest.raises(ModelMismatchError, match="cannot export"):
        query_encoder_files(Claims(), tmp_path)  # type: ignore[arg-type]


def test_the_build_encoder_is_shared_per_process() -> None:
    s = PipelineSettings(encoder="hashing")
    assert settings_encoder(s) is settings_encoder(PipelineSettings(encoder="hashing"))
    assert settings_encoder(s) is load_build_encoder("hashing")
    with pytest.raises(ValueError, match="unknown encoder backend 'bert'"):
        load_build_encoder("bert")  # type: ignore[arg-type]
