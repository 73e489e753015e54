"""Feedback priors in a snapshot: ``priors.json``, per collection, record id -> weight in [-1, 1].

Written by a build that read feedback events (and only then: a build without feedback writes no
such file, and its manifest no ``priors``); listed and checksummed in the manifest like every
other file; read once when a snapshot is opened for search.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import layout
from .errors import ManifestError
from .manifest import Manifest

Weights = dict[str, dict[str, float]]  # collection -> record id -> weight in [-1, 1]


def write_priors(snapshot_dir: Path, weights: Weights) -> Path:
    """Write ``priors.json`` (canonical JSON: sorted keys, weights rounded to 6 places)."""
    data = {
        c: {rid: round(float(w), 6) for rid, w in sorted(ws.items())}
        for c, ws in sorted(weights.items())
    }
    for c, ws in data.items():
        for rid, w in ws.items():
            if not math.isfinite(w) or not -1.0 <= w <= 1.0:
                raise ValueError(f"prior of {c}/{rid} is {w}: priors lie in [-1, 1]")
    path = snapshot_dir / layout.PRIORS
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n",
                    encoding="utf-8")
    return path


def read_priors(snapshot_dir: Path, manifest: Manifest) -> Weights:
    """The snapshot's priors; {} when its build read no feedback."""
    if manifest.priors is None:
        return {}
    path = snapshot_dir / layout.PRIORS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"{path}: the manifest records feedback priors but the file is unreadable: {exc}",
            fix="rebuild the snapshot",
        ) from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path} is not a JSON object", fix="rebuild the snapshot")
    return {
        str(c): {str(rid): float(w) for rid, w in ws.items()}
        for c, ws in data.items() if isinstance(ws, dict)
    }
