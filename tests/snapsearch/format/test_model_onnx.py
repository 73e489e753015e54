"""The ONNX query encoder (onnxruntime + tokenizers, no torch) and the query encoder a snapshot
carries, over a tiny exported graph (tests/tiny_onnx.py; the real model: tests/e2e)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipelines.transform.build import BuildResult
from snapsearch.format import layout
from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.model import HashingEncoder
from snapsearch.format.model_onnx import OnnxEncoder
from snapsearch.format.model_query import load_query_encoder, open_query_encoder
from tests.conftest import build_from, sample_records, write_jsonl
from tests.tiny_onnx import TinyOnnxEncoder

TEXTS = ["10k 0402 resistor 1%", "capacitor 100nf 0603", "AMS1117-3.3 ldo regulator",
         "Unknownword zzz", "resistor"]


@pytest.fixture(scope="module")
def tiny() -> TinyOnnxEncoder:
    return TinyOnnxEncoder()


@pytest.fixture(scope="module")
def onnx_built(tmp_path_factory: pytest.TempPathFactory, tiny: TinyOnnxEncoder) -> BuildResult:
    tmp = tmp_path_factory.mktemp("onnx")
    return build_from(write_jsonl(tmp / "parts.jsonl", sample_records(60)), tmp / "store", tiny)


def _encoder(built: BuildResult) -> OnnxEncoder:
    enc = load_query_encoder(built.path, built.manifest.model)
    assert isinstance(enc, OnnxEncoder)
    return enc


def test_the_snapshot_carries_its_query_encoder(onnx_built: BuildResult) -> None:
    pin = onnx_built.manifest.model
    assert pin.query_encoder == "onnx" and pin.onnx is not None
    assert pin.onnx.file == layout.QUERY_ENCODER and pin.onnx.opset == 18
    assert pin.onnx.precision == "fp32"
    files = onnx_built.manifest.files
    assert files[layout.QUERY_ENCODER].sha256 == pin.onnx.sha256
    assert files[layout.QUERY_TOKENIZER].sha256 == pin.onnx.tokenizer_sha256
    assert pin.onnx.data_file == layout.QUERY_ENCODER_DATA
    assert files[layout.QUERY_ENCODER_DATA].sha256 == pin.onnx.data_sha256


def test_the_large_tensors_are_external_data_at_aligned_offsets(onnx_built: BuildResult) -> None:
    """onnxruntime maps external tensors from the file only when their offset is aligned: the
    embedding table (the tiny model's only large tensor) must be there, at offset 0 mod 64 KiB,
    and the graph itself small."""
    import onnx

    graph = onnx.load(str(onnx_built.path / layout.QUERY_ENCODER), load_external_data=False)
    external = {
        t.name: {e.key: e.value for e in t.external_data}
        for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    }
    assert set(external) == {"table"}
    assert external["table"]["location"] == layout.QUERY_ENCODER_DATA
    assert int(external["table"].get("offset", "0")) % (64 * 1024) == 0
    assert (onnx_built.path / layout.QUERY_ENCODER).stat().st_size < 4096


def test_onnx_reproduces_the_build_encoder(onnx_built: BuildResult, tiny: TinyOnnxEncoder):
    enc = _encoder(onnx_built)
    a, b = enc.encode(TEXTS), tiny.encode(TEXTS)
    assert a.dtype == np.float32 and a.shape == (len(TEXTS), tiny.dim)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.99999


def test_one_text_alone_or_in_a_padded_batch_encodes_the_same(onnx_built: BuildResult) -> None:
    enc = _encoder(onnx_built)
    batch = enc.encode(TEXTS, batch_size=2)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(enc.encode([text])[0], batch[i], atol=1e-6)


def test_padding_is_off_and_truncation_at_max_seq_length(onnx_built: BuildResult) -> None:
    """The tokenizer file pads to 64 (as the real model's pads to 128): a query must run at its
    own length, and be cut at the pin's max_seq_length (24 here)."""
    spec = onnx_built.manifest.model.onnx
    assert spec is not None
    saved = json.loads((onnx_built.path / spec.tokenizer_file).read_text(encoding="utf-8"))
    assert saved["padding"]["strategy"] == {"Fixed": 64}
    enc = _encoder(onnx_built)
    assert enc._tokenizer.padding is None
    assert len(enc._tokenizer.encode("resistor capacitor").ids) == 2
    long = " ".join(["resistor", "capacitor"] * 40)
    assert len(enc._tokenizer.encode(long).ids) == 24
    head = " ".join(long.split()[:24])
    np.testing.assert_allclose(enc.encode([long])[0], enc.encode([head])[0], atol=1e-6)


def test_a_second_open_reuses_the_loaded_encoder(onnx_built: BuildResult) -> None:
    assert _encoder(onnx_built) is _encoder(onnx_built)


def test_open_checks_the_canary(onnx_built: BuildResult) -> None:
    pin = onnx_built.manifest.model
    open_query_encoder(onnx_built.path, pin)
    vector = [pin.canary.vector[0] + 0.5, *pin.canary.vector[1:]]
    drifted = pin.model_copy(update={"canary": pin.canary.model_copy(update={"vector": vector})})
    with pytest.raises(ModelMismatchError, match="canary"):
        open_query_encoder(onnx_built.path, drifted)


def _damaged_copy(built: BuildResult, tmp_path: Path, name: str, at: int) -> Path:
    """A copy of the snapshot with one byte of ``name`` changed (same size, other bytes)."""
    copy = tmp_path / built.path.name
    shutil.copytree(built.path, copy)
    data = bytearray((copy / name).read_bytes())
    data[at] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    return copy


def test_an_encoder_file_that_differs_from_the_pin_is_refused(
    onnx_built: BuildResult, tmp_path: Path
) -> None:
    copy = _damaged_copy(onnx_built, tmp_path, layout.QUERY_TOKENIZER, -2)
    with pytest.raises(ModelMismatchError) as err:
        load_query_encoder(copy, onnx_built.manifest.model)
    assert f"tokenizer {layout.QUERY_TOKENIZER} differs from the model pin" in str(err.value)
    assert copy.name in str(err.value) and "snapsearch run --force" in str(err.value)
    (copy / layout.QUERY_ENCODER).unlink()
    with pytest.raises(ModelMismatchError, match="cannot be read"):
        load_query_encoder(copy, onnx_built.manifest.model)


def test_weights_that_differ_from_the_pin_are_refused(
    onnx_built: BuildResult, tmp_path: Path
) -> None:
    copy = _damaged_copy(onnx_built, tmp_path, layout.QUERY_ENCODER_DATA, 100)
    with pytest.raises(ModelMismatchError, match=f"weights {layout.QUERY_ENCODER_DATA} differs"):
        load_query_encoder(copy, onnx_built.manifest.model)
    # a digest said to be verified must be the pin's to spare the hashing
    files = {n: f.sha256 for n, f in onnx_built.manifest.files.items()}
    wrong = {**files, layout.QUERY_ENCODER_DATA: "0" * 64}
    with pytest.raises(ModelMismatchError, match="differs from the model pin"):
        load_query_encoder(copy, onnx_built.manifest.model, verified=wrong)


def test_files_verified_with_the_pins_digests_are_not_hashed_again(
    onnx_built: BuildResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot opened with checksums has just hashed every file: the encoder's loader takes
    those digests instead of reading ~90 MB again (the server's start)."""
    import snapsearch.format.model_query as model_query

    hashed: list[str] = []
    real = model_query.sha256_file
    monkeypatch.setattr(model_query, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    monkeypatch.setattr(model_query, "_loaded", type(model_query._loaded)())
    files = {n: f.sha256 for n, f in onnx_built.manifest.files.items()}
    load_query_encoder(onnx_built.path, onnx_built.manifest.model, verified=files)
    assert hashed == []
    load_query_encoder(onnx_built.path, onnx_built.manifest.model)
    assert sorted(hashed) == sorted(
        [layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA, layout.QUERY_TOKENIZER]
    )


def test_a_pin_naming_onnx_without_files_is_refused(onnx_built: BuildResult) -> None:
    pin = onnx_built.manifest.model.model_copy(update={"onnx": None})
    with pytest.raises(ModelMismatchError, match="names no ONNX file"):
        load_query_encoder(onnx_built.path, pin)


def test_a_hashing_snapshot_gets_the_hashing_encoder(built: BuildResult) -> None:
    enc = open_query_encoder(built.path, built.manifest.model)
    assert isinstance(enc, HashingEncoder) and enc.dim == built.manifest.model.dim
    assert built.manifest.model.query_encoder == "hashing" and built.manifest.model.onnx is None
    assert layout.QUERY_ENCODER not in built.manifest.files
