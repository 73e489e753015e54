"""The query encoder gate, passing and failing: the snapshot's query encoder against the model
it was built with (cosine over a fixed sample, the suite's nDCG@10 either way)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.suite import load_suite
from pipelines.transform.build import BuildResult
from pipelines.validate.encoder import compare_encoders, encoder_sample, gate_query_encoder
from pipelines.validate.gates import run_gates
from snapsearch.format import layout
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.settings import GateSettings
from tests.conftest import build_from, sample_records, write_jsonl
from tests.tiny_onnx import TinyOnnxEncoder

SUITE_LINES = [
    {"id": "q1", "query": "10k 0402 resistor", "expected": ["C25744"], "kind": "parametric"},
    {"id": "q2", "query": "AMS1117-3.3 regulator", "expected": ["C6186"], "kind": "mpn"},
    {"id": "q3", "query": "C1525", "expected": ["C1525"], "kind": "lcsc"},
]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    p = tmp_path / "suite.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in SUITE_LINES), encoding="utf-8")
    return p


class Drifted:
    """The hashing encoder, every vector pushed off by ``noise`` (then normalised again)."""

    def __init__(self, noise: float, dim: int = 64) -> None:
        self._inner = HashingEncoder(dim)
        self.pin = self._inner.pin
        self._noise = noise

    def encode(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        out = self._inner.encode(texts)
        rng = np.random.default_rng(len(texts))
        out = out + rng.normal(0, self._noise, size=out.shape).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_passes_when_the_query_encoder_is_the_build_model(built: BuildResult, suite: Path):
    with open_snapshot(built.path) as snap:
        result, enc = gate_query_encoder(snap, HashingEncoder(), load_suite(suite), GateSettings())
    assert result.passed, result.description
    assert isinstance(enc, HashingEncoder)
    m = result.metrics
    assert m["min_cosine"] >= 0.9999 and m["cosine_min_required"] == 0.9999
    assert m["texts"] >= len(SUITE_LINES) and m["ndcg@10.hybrid.gap"] == 0.0
    assert "min cosine" in result.description


def test_passes_for_an_onnx_export(tmp_path: Path, suite: Path) -> None:
    tiny = TinyOnnxEncoder()
    built = build_from(write_jsonl(tmp_path / "p.jsonl", sample_records(80)), tmp_path / "s", tiny)
    report = run_gates(built.path, tiny, GateSettings(), suite_path=suite)
    gate = report.gates["query_encoder"]
    assert gate.passed, gate.description
    assert gate.metrics["min_cosine"] >= 0.9999
    assert "query encoder (onnx)" in gate.description


def test_fails_on_a_drifted_query_encoder(built: BuildResult, suite: Path) -> None:
    with open_snapshot(built.path) as snap:
        result = compare_encoders(snap, Drifted(0.01), HashingEncoder(), load_suite(suite),
                                  GateSettings())
    assert not result.passed
    assert "minimum cosine" in result.description and "< 0.9999" in result.description
    assert result.metrics["min_cosine"] < 0.9999 and len(result.metrics["worst_texts"]) == 5


def test_fails_when_quality_moves_with_the_encoder(built: BuildResult, suite: Path) -> None:
    with open_snapshot(built.path) as snap:
        result = compare_encoders(snap, Drifted(5.0), HashingEncoder(), load_suite(suite),
                                  GateSettings(encoder_cosine_min=0.0))
    assert not result.passed
    assert "vector nDCG@10" in result.description and "gap" in result.description


def test_fails_when_the_encoder_files_differ_from_the_pin(tmp_path: Path, suite: Path) -> None:
    tiny = TinyOnnxEncoder()
    built = build_from(write_jsonl(tmp_path / "p.jsonl", sample_records(40)), tmp_path / "s", tiny)
    copy = tmp_path / "copy" / built.path.name
    shutil.copytree(built.path, copy)
    data = bytearray((copy / layout.QUERY_ENCODER).read_bytes())
    data[-1] ^= 0xFF
    (copy / layout.QUERY_ENCODER).write_bytes(bytes(data))
    with open_snapshot(copy) as snap:
        result, enc = gate_query_encoder(snap, tiny, load_suite(suite), GateSettings())
    assert not result.passed and enc is None
    assert "differs from the model pin" in result.description


def test_the_sample_is_fixed(built: BuildResult, suite: Path) -> None:
    with open_snapshot(built.path) as snap:
        a = encoder_sample(snap, load_suite(suite))
        b = encoder_sample(snap, load_suite(suite))
    assert a == b and a[: len(SUITE_LINES)] == [q["query"] for q in SUITE_LINES]
    assert len(a) > len(SUITE_LINES)  # and queries drawn from the records
