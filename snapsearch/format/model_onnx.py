"""The ONNX query encoder: the snapshot's exported model run by onnxruntime, its tokenizer by
``tokenizers``. No torch, no transformers.

The graph (exported at build time by ``pipelines.transform.export``) takes the tokenizer's
``input_ids``/``attention_mask``/``token_type_ids`` and returns one L2-normalised row per text:
token embeddings, mean pooling over the attention mask and normalisation are inside it.

The model's ``tokenizer.json`` pads every input to 128 tokens; a single query padded so costs
several times its own length. Padding is turned off here: one text runs at its own length, a
batch is padded to its longest text (the mask keeps padding out of the mean). Truncation is at
the pin's ``max_seq_length``, as sentence-transformers does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import ModelPin, OnnxPin
from .model import CANARY_TEXT, Progress, make_canary


class OnnxEncoder:
    """Encodes texts with an exported encoder graph; ``threads`` intra-op threads (default 1:
    what a process per core wants; one server process on two free cores encodes a query in
    ~60 % of the time with two)."""

    def __init__(
        self, model: Path, tokenizer_json: str, pin: ModelPin, *, threads: int = 1
    ) -> None:
        """``model``: the graph's file, loaded by onnxruntime from the file (not from bytes,
        which it would copy) with its external data beside it, which it maps from the file."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if pin.onnx is None:
            raise ValueError(f"the pin of {pin.model_id!r} names no ONNX encoder")
        self._spec: OnnxPin = pin.onnx
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = ort.InferenceSession(
            str(model), sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=pin.max_seq_length)
        self._expected = pin
        self.dim = pin.dim
        self._pin: ModelPin | None = None

    @property
    def pin(self) -> ModelPin:
        """The snapshot's pin with the canary this encoder computes (``check_pin`` compares it
        with the pin's own, computed by the model the snapshot was built with)."""
        if self._pin is None:
            canary = make_canary(self.encode([CANARY_TEXT])[0])
            self._pin = self._expected.model_copy(update={"canary": canary})
        return self._pin

    def _run(self, encodings: Sequence[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = e.attention_mask
            types[row, :n] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = self._session.run([self._spec.output], {k: feed[k] for k in self._inputs})[0]
        return np.asarray(out, dtype=np.float32)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 1:
            out[0] = self._run([self._tokenizer.encode(texts[0])])[0]
        elif n:
            encodings = self._tokenizer.encode_batch(list(texts))
            # similar lengths together: little padding per batch
            order = sorted(range(n), key=lambda i: len(encodings[i].ids))
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._run([encodings[i] for i in idx])
                if progress:
                    progress(min(start + batch_size, n), n)
        return out
