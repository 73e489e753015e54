"""The query encoder every snapshot carries: the pinned model exported to ONNX at build time.

The graph is the model's transformer plus mean pooling over the attention mask and L2
normalisation, fp32 (a dynamic int8 export fell to cosine 0.91 against the model: not
acceptable), exported with torch's ONNX exporter. Beside it goes the model's own tokenizer
file. Serve runs both with onnxruntime + tokenizers (``snapsearch.format.model_onnx``).

The export is produced by the build, never committed or downloaded, and cached under
``<root>/_cache/onnx/<key>/`` keyed by the model fingerprint and this module's export format:
an unchanged rebuild copies the cached files instead of exporting again (~30 s on two cores).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from snapsearch.format import layout
from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.hashing import sha256_file, sha256_text
from snapsearch.format.manifest import ModelPin, OnnxPin
from snapsearch.format.model import Encoder

from .encoder import SentenceTransformerEncoder

OPSET = 18
PRECISION = "fp32"
EXPORT_FORMAT = 1  # bump when the exported graph changes: the cache key changes with it
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT = "sentence_embedding"
_META = "export.json"

Log = Callable[[str], None]


@dataclass(frozen=True)
class QueryEncoderFiles:
    """The pin to write into the manifest and the files to copy into the snapshot."""

    pin: ModelPin
    files: dict[str, Path]  # snapshot file name -> source
    exported: bool  # False: taken from the cache (or none needed)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def exporter_versions() -> dict[str, str]:
    return {d: _version(d) for d in ("torch", "onnx", "onnxscript")}


def cache_key(pin: ModelPin) -> str:
    return sha256_text(
        json.dumps([pin.fingerprint, OPSET, PRECISION, EXPORT_FORMAT, INPUTS, OUTPUT])
    )[:32]


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


def export_onnx(encoder: SentenceTransformerEncoder, path: Path, *, opset: int = OPSET) -> None:
    """Write ``encoder``'s model as one self-contained fp32 ONNX file at ``path``."""
    import torch

    module = _pooled_module(encoder.model)
    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in range(2)) + (
        torch.zeros((2, 8), dtype=torch.int64),
    )
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: seq} for name in INPUTS}
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)  # "torchvision is not installed" notes
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
        onnx_logger.setLevel(level)


def _cached(entry: Path) -> dict[str, Any] | None:
    """The cache entry's record when its files are there and still match its digests."""
    try:
        meta = json.loads((entry / _META).read_text(encoding="utf-8"))
        for name in (layout.QUERY_ENCODER, layout.QUERY_TOKENIZER):
            if sha256_file(entry / name) != meta["sha256"][name]:
                return None
        return dict(meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _export_into_cache(
    encoder: SentenceTransformerEncoder, entry: Path, log: Log
) -> dict[str, Any]:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=layout.TMP_PREFIX, dir=entry.parent))
    try:
        log(f"query encoder: exporting {encoder.model_id} to ONNX ({PRECISION}, opset {OPSET})")
        export_onnx(encoder, tmp / layout.QUERY_ENCODER)
        shutil.copyfile(encoder.tokenizer_file, tmp / layout.QUERY_TOKENIZER)
        digests = {
            name: sha256_file(tmp / name) for name in (layout.QUERY_ENCODER, layout.QUERY_TOKENIZER)
        }
        meta = {"sha256": digests, "opset": OPSET, "model_id": encoder.model_id,
                "exporter": exporter_versions()}
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)  # a stale or damaged entry
        os.rename(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def query_encoder_files(encoder: Encoder, root: Path, *, log: Log = lambda _m: None) -> (
    QueryEncoderFiles
):
    """The query encoder for a snapshot built with ``encoder``: the ONNX export (from the cache
    when there) for the pinned model, nothing for the tests' hashing encoder."""
    pin = encoder.pin
    if pin.query_encoder == "hashing":
        return QueryEncoderFiles(pin, {}, exported=False)
    if not isinstance(encoder, SentenceTransformerEncoder):
        raise ModelMismatchError(
            f"the build encoder {type(encoder).__name__} pins an ONNX query encoder but cannot "
            "export one",
            fix="build with the pinned model (SNAPSEARCH_ENCODER=minilm)",
        )
    entry = layout.onnx_cache_dir(root, cache_key(pin))
    meta = _cached(entry)
    exported = meta is None
    if meta is None:
        meta = _export_into_cache(encoder, entry, log)
    else:
        log(f"query encoder: ONNX export reused from {entry}")
    digests = meta["sha256"]
    onnx = OnnxPin(
        file=layout.QUERY_ENCODER,
        sha256=digests[layout.QUERY_ENCODER],
        opset=OPSET,
        precision=PRECISION,
        inputs=list(INPUTS),
        output=OUTPUT,
        tokenizer_file=layout.QUERY_TOKENIZER,
        tokenizer_sha256=digests[layout.QUERY_TOKENIZER],
        exporter=dict(meta.get("exporter") or {}),
    )
    return QueryEncoderFiles(
        pin.model_copy(update={"onnx": onnx}),
        {name: entry / name for name in (layout.QUERY_ENCODER, layout.QUERY_TOKENIZER)},
        exported=exported,
    )
