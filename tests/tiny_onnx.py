"""A tiny build encoder that exports itself to ONNX without torch, for fast tests of the ONNX
query encoder path (export cache, snapshot files, pin, onnxruntime + tokenizers at serve time).

Same contract as the real export: inputs input_ids / attention_mask / token_type_ids, output one
L2-normalised row per text (an embedding table, mean pooling over the mask, normalisation). Its
tokenizer file pads to a fixed length, as the real model's does: the runtime must turn it off.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipelines.transform.encoder import INPUTS, OPSET, OUTPUT
from snapsearch.format.manifest import ModelPin
from snapsearch.format.model import CANARY_TEXT, Progress, make_canary, weights_digest
from snapsearch.settings import SAMPLE_SOURCE

MODEL_ID = "snapsearch/tiny-onnx-test-encoder"


@lru_cache(maxsize=1)
def sample_vocabulary(size: int = 3000) -> tuple[str, ...]:
    """The most frequent lowercase words of the bundled sample (deterministic)."""
    words: Counter[str] = Counter()
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        for line in f:
            for value in json.loads(line).values():
                words.update(str(value).lower().split())
    return tuple(w for w, _ in words.most_common(size))


def tokenizer_json(vocabulary: Sequence[str], *, pad_to: int = 64) -> str:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(vocabulary)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.enable_padding(length=pad_to, pad_id=0, pad_token="[PAD]")  # the trap, as in MiniLM's
    return str(tok.to_str())


class TinyOnnxEncoder:
    """Build encoder (numpy) + its ONNX export (``export_onnx``)."""

    model_id = MODEL_ID

    def __init__(self, dim: int = 32, *, max_seq_length: int = 24, seed: int = 7) -> None:
        from tokenizers import Tokenizer

        vocabulary = sample_vocabulary()
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.max_seq_length = max_seq_length
        self.table = rng.normal(size=(len(vocabulary) + 2, dim)).astype(np.float32)
        self.table[0] = 0.0
        self._dir = Path(tempfile.mkdtemp(prefix="tiny-onnx-"))
        self._json = tokenizer_json(vocabulary)
        (self._dir / "tokenizer.json").write_text(self._json, encoding="utf-8")
        self._tok = Tokenizer.from_str(self._json)
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_seq_length)
        self.exports = 0
        self._pin: ModelPin | None = None

    @property
    def tokenizer_file(self) -> Path:
        return self._dir / "tokenizer.json"

    @property
    def pin(self) -> ModelPin:
        if self._pin is None:
            files = {"table": hashlib.sha256(self.table.tobytes()).hexdigest()}
            self._pin = ModelPin(
                model_id=MODEL_ID, revision="1", weights_sha256=files,
                weights_digest=weights_digest(files), dim=self.dim, normalize=True,
                max_seq_length=self.max_seq_length, versions={},
                canary=make_canary(self.encode([CANARY_TEXT])[0]), query_encoder="onnx",
            )
        return self._pin

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = self._tok.encode(text).ids
            row = self.table[ids].mean(axis=0) if ids else np.zeros(self.dim, np.float32)
            out[i] = row / max(float(np.linalg.norm(row)), 1e-12)
        if progress:
            progress(len(texts), len(texts))
        return out

    def export_onnx(self, path: Path) -> None:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        self.exports += 1
        ids, mask, types = (
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in INPUTS
        )
        out = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", self.dim])
        inits = [
            numpy_helper.from_array(self.table, "table"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last"),
            numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "eps"),
        ]
        nodes = [
            helper.make_node("Gather", ["table", INPUTS[0]], ["tokens"]),
            helper.make_node("Cast", [INPUTS[1]], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),
            helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
            helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
            helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
            helper.make_node("Max", ["count", "eps"], ["safe"]),
            helper.make_node("Div", ["summed", "safe"], ["pooled"]),
            helper.make_node("LpNormalization", ["pooled"], [OUTPUT], axis=1, p=2),
        ]
        graph = helper.make_graph(nodes, "tiny", [ids, mask, types], [out], initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
