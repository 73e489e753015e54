"""The query encoder a snapshot carries, as its manifest names it (``ModelPin.query_encoder``).

``open_query_encoder`` is what serve, ``snapsearch query`` and ``snapsearch verify`` use: an
``OnnxEncoder`` over the snapshot's own ``query-encoder.onnx`` (with its external data,
``query-encoder.weights``) and ``query-tokenizer.json`` (each file's sha256 checked against the
pin first), or, for snapshots built by tests with the
fake encoder, a ``HashingEncoder`` of the pin's dim. ``check_pin`` then compares the canary the
encoder computes with the pin's. Nothing here imports torch.

One encoder per distinct pair of encoder files is kept per process (a swap to a snapshot with
the same files reuses the loaded session; one with other files loads its own).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from .errors import ModelMismatchError
from .hashing import sha256_file, sha256_text
from .manifest import ModelPin
from .model import Encoder, HashingEncoder, check_pin

_KEEP = 3  # encoders kept per process: the current snapshot's, the previous one's, a spare
_loaded: OrderedDict[tuple[str, ...], Encoder] = OrderedDict()
_lock = threading.Lock()


def _check_file(
    path: Path, expected_sha256: str, what: str, where: str,
    verified: Mapping[str, str] | None = None,
) -> Path:
    """``path`` if its sha256 is the pin's (read in chunks: the model is loaded from the file,
    so its ~90 MB are not held twice), else ModelMismatchError. ``verified``: file name ->
    the sha256 its bytes were just found to have (a snapshot opened with checksums); a file
    verified with the pin's digest is not hashed again."""
    if verified is not None and verified.get(path.name) == expected_sha256:
        return path
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ModelMismatchError(
            f"{where}: the query encoder's {what} {path.name} cannot be read: {exc}",
            fix="rebuild the snapshot with `snapsearch run --force`",
        ) from exc
    if actual != expected_sha256:
        raise ModelMismatchError(
            f"{where}: the query encoder's {what} {path.name} differs from the model pin "
            "(sha256)",
            fix="rebuild the snapshot with `snapsearch run --force` "
                "(snapshots are immutable: never edit one)",
        )
    return path


def load_query_encoder(
    snapshot_dir: Path, pin: ModelPin, *, where: str = "",
    verified: Mapping[str, str] | None = None, threads: int = 1,
) -> Encoder:
    """The encoder ``pin.query_encoder`` names, from ``snapshot_dir``'s files; raises
    ModelMismatchError when the files are missing or differ from the pin. No canary check
    (``open_query_encoder`` does both). ``verified``: see ``_check_file``; ``threads``: the
    onnxruntime threads one encode uses."""
    where = where or f"snapshot {snapshot_dir.name}"
    if pin.query_encoder == "hashing":
        return HashingEncoder(pin.dim)
    spec = pin.onnx
    if spec is None:
        raise ModelMismatchError(
            f"{where}: the model pin says the query encoder is ONNX but names no ONNX file",
            fix="rebuild the snapshot with `snapsearch run --force`",
        )
    model = _check_file(snapshot_dir / spec.file, spec.sha256, "model", where, verified)
    if spec.data_file is not None:
        if spec.data_sha256 is None:
            raise ModelMismatchError(
                f"{where}: the model pin names the query encoder's data file {spec.data_file} "
                "without its sha256",
                fix="rebuild the snapshot with `snapsearch run --force`",
            )
        _check_file(snapshot_dir / spec.data_file, spec.data_sha256, "weights", where, verified)
    tokenizer = _check_file(
        snapshot_dir / spec.tokenizer_file, spec.tokenizer_sha256, "tokenizer", where, verified
    )
    key = (spec.sha256, spec.data_sha256 or "", spec.tokenizer_sha256,
           sha256_text(pin.model_dump_json()), str(threads))
    with _lock:
        found = _loaded.get(key)
        if found is not None:
            _loaded.move_to_end(key)
            return found
    from .model_onnx import OnnxEncoder

    try:
        encoder: Encoder = OnnxEncoder(
            model, tokenizer.read_text(encoding="utf-8"), pin, threads=threads
        )
    except Exception as exc:  # onnxruntime / tokenizers refuse the files
        raise ModelMismatchError(
            f"{where}: the query encoder cannot be loaded: {exc}",
            fix="rebuild the snapshot with `snapsearch run --force`",
        ) from exc
    with _lock:
        _loaded[key] = encoder
        while len(_loaded) > _KEEP:
            _loaded.popitem(last=False)
    return encoder


def open_query_encoder(
    snapshot_dir: Path, pin: ModelPin, *, where: str = "", threads: int = 1
) -> Encoder:
    """The snapshot's query encoder, its files and its canary checked against ``pin``."""
    where = where or f"snapshot {snapshot_dir.name}"
    encoder = load_query_encoder(snapshot_dir, pin, where=where, threads=threads)
    check_pin(pin, encoder, where=where)
    return encoder
