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
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from snapsearch.format import layout
from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.hashing import sha256_file, sha256_text
from snapsearch.format.manifest import ModelPin, OnnxPin
from snapsearch.format.model import Encoder

from .encoder import INPUTS, OPSET, OUTPUT, PRECISION

# bump when the exported graph changes: the cache key changes with it
# 2: large tensors moved to external data (layout.QUERY_ENCODER_DATA), 64 KiB-aligned
EXPORT_FORMAT = 2
_META = "export.json"
EXTERNAL_MIN_BYTES = 64 * 1024  # tensors this large go to the external data file
EXTERNAL_ALIGN = 64 * 1024  # their offsets: a multiple of the page size and of Windows' 64 KiB

_FILES = (layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA, layout.QUERY_TOKENIZER)
Log = Callable[[str], None]


@runtime_checkable
class Exportable(Protocol):
    """A build encoder that can write itself as an ONNX query encoder (the pinned model:
    ``pipelines.transform.encoder.SentenceTransformerEncoder``)."""

    model_id: str

    @property
    def tokenizer_file(self) -> Path: ...

    def export_onnx(self, path: Path) -> None:
        """Write one self-contained fp32 graph: inputs ``INPUTS``, output ``OUTPUT``, one
        L2-normalised row per text."""
        ...


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


def _cached(entry: Path) -> dict[str, Any] | None:
    """The cache entry's record when its files are there and still match its digests."""
    try:
        meta = json.loads((entry / _META).read_text(encoding="utf-8"))
        digests = meta["sha256"]
        if not {layout.QUERY_ENCODER, layout.QUERY_TOKENIZER} <= set(digests):
            return None
        for name, digest in digests.items():
            if name not in _FILES or sha256_file(entry / name) != digest:
                return None
        return dict(meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def externalize(graph: Path, data_name: str, *, min_bytes: int = EXTERNAL_MIN_BYTES,
                align: int = EXTERNAL_ALIGN) -> bool:
    """Move ``graph``'s initializers of ``min_bytes`` or more into ``data_name`` beside it (ONNX
    external data), each at an offset that is a multiple of ``align``; rewrites ``graph``.

    onnxruntime maps aligned external tensors from the file instead of copying them into its
    own memory: the 47 MB word-embedding table of MiniLM then costs only the pages queries
    touch, and pages of the file are shared by every process serving the snapshot. False (and
    ``graph`` unchanged) when no tensor is that large."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph))
    large = [t for t in model.graph.initializer
             if numpy_helper.to_array(t).nbytes >= min_bytes]
    if not large:
        return False
    offset = 0
    with open(graph.parent / data_name, "wb") as out:
        for tensor in large:
            array = numpy_helper.to_array(tensor)
            raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            offset = -(-offset // align) * align
            out.seek(offset)
            out.write(raw)
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))  # its data: raw only
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", data_name), ("offset", str(offset)),
                               ("length", str(len(raw)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            offset += len(raw)
    onnx.save(model, str(graph))
    return True


def _export_into_cache(encoder: Exportable, entry: Path, log: Log) -> dict[str, Any]:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=layout.TMP_PREFIX, dir=entry.parent))
    try:
        log(f"query encoder: exporting {encoder.model_id} to ONNX ({PRECISION}, opset {OPSET})")
        encoder.export_onnx(tmp / layout.QUERY_ENCODER)
        externalize(tmp / layout.QUERY_ENCODER, layout.QUERY_ENCODER_DATA)
        shutil.copyfile(encoder.tokenizer_file, tmp / layout.QUERY_TOKENIZER)
        digests = {name: sha256_file(tmp / name) for name in _FILES if (tmp / name).is_file()}
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
    if not isinstance(encoder, Exportable):
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
        data_file=layout.QUERY_ENCODER_DATA if layout.QUERY_ENCODER_DATA in digests else None,
        data_sha256=digests.get(layout.QUERY_ENCODER_DATA),
        exporter=dict(meta.get("exporter") or {}),
    )
    return QueryEncoderFiles(
        pin.model_copy(update={"onnx": onnx}),
        {name: entry / name for name in _FILES if name in digests},
        exported=exported,
    )
