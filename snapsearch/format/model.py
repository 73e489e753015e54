"""The embedding model's pin, the encoder protocol and the test-only hashing encoder.

``ModelPin`` (in the manifest) records the weights' sha256, dim, normalisation, max length,
library versions, a canary embedding and the query encoder the snapshot carries; ``check_pin``
says exactly what differs between a pin and an encoder.

Nothing here loads torch: the pinned model for builds (sentence-transformers on torch) lives in
``pipelines.transform.encoder``; the query encoder serve runs (onnxruntime + tokenizers, from
the snapshot's own files) in ``model_onnx`` and ``model_query``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import numpy as np

from .errors import ModelMismatchError
from .manifest import Canary, ModelPin

CANARY_TEXT = "snapsearch canary: 10k 0402 resistor 1% thick film"
CANARY_DECIMALS = 4
# two installs agree when the canary embeddings agree this closely (BLAS differences are ~1e-6)
CANARY_TOLERANCE = 2e-3

Progress = Callable[[int, int], None]


class Encoder(Protocol):
    @property
    def pin(self) -> ModelPin: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        """L2-normalised float32 matrix, one row per text."""
        ...


def make_canary(vector: np.ndarray) -> Canary:
    rounded = np.round(vector.astype(np.float64), CANARY_DECIMALS)
    digest = hashlib.sha256(json.dumps(rounded.tolist()).encode()).hexdigest()
    return Canary(
        text=CANARY_TEXT,
        decimals=CANARY_DECIMALS,
        vector=[float(x) for x in rounded],
        digest=digest,
    )


def weights_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


class HashingEncoder:
    """A deterministic bag-of-hashed-tokens encoder: for unit tests only, never the default."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self._pin: ModelPin | None = None

    @property
    def pin(self) -> ModelPin:
        if self._pin is None:
            files = {"hashing": hashlib.sha256(f"hashing-{self.dim}".encode()).hexdigest()}
            self._pin = ModelPin(
                model_id="snapsearch/hashing-test-encoder",
                revision="1",
                weights_sha256=files,
                weights_digest=weights_digest(files),
                dim=self.dim,
                normalize=True,
                max_seq_length=512,
                versions={},
                canary=make_canary(self.encode([CANARY_TEXT])[0]),
                query_encoder="hashing",
            )
        return self._pin

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in text.lower().split():
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[i]))
            if norm > 0:
                out[i] /= norm
            else:
                out[i, 0] = 1.0
        if progress:
            progress(len(texts), len(texts))
        return out


EncoderBackend = Literal["minilm", "hashing"]
# the build encoders a pipeline can be given (pipelines.transform.encoder loads them)
ENCODER_BACKENDS: tuple[EncoderBackend, ...] = ("minilm", "hashing")


def check_pin(expected: ModelPin, encoder: Encoder, *, where: str) -> None:
    """Raise ModelMismatchError naming what differs between a snapshot's pin and ``encoder``."""
    actual = encoder.pin
    diffs: list[str] = []
    if expected.model_id != actual.model_id:
        diffs.append(f"model_id {expected.model_id!r} != installed {actual.model_id!r}")
    if expected.dim != actual.dim:
        diffs.append(f"dim {expected.dim} != installed {actual.dim}")
    # every weight file by its own sha256, and the pin's digest against its own file list (a
    # digest alone would let a pin whose per-file hashes were edited pass)
    changed = sorted(
        k for k in set(expected.weights_sha256) | set(actual.weights_sha256)
        if expected.weights_sha256.get(k) != actual.weights_sha256.get(k)
    )
    if changed:
        diffs.append(
            f"weights differ ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})"
        )
    if expected.weights_digest != weights_digest(expected.weights_sha256):
        diffs.append("the pin's weights_digest does not match its own weights_sha256")
    elif not changed and expected.weights_digest != actual.weights_digest:
        diffs.append("weights digest differs")
    if expected.normalize != actual.normalize or expected.max_seq_length != actual.max_seq_length:
        diffs.append("normalisation or max_seq_length differ")
    if not diffs:
        a = np.asarray(expected.canary.vector)
        b = np.asarray(actual.canary.vector)
        gap = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("inf")
        if gap > CANARY_TOLERANCE:
            diffs.append(f"canary embedding differs by {gap:.4g} (> {CANARY_TOLERANCE})")
    if diffs:
        raise ModelMismatchError(
            f"{where}: the installed embedding model does not match the snapshot's pin: "
            + "; ".join(diffs),
            fix="install the model the snapshot was built with, "
                "or rebuild with `snapsearch run --force`",
        )
