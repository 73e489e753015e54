"""The peers' query encoder: sentence-transformers on torch (their own runtime), loading the
same local model directory snapsearch pins, on one thread as snapsearch encodes queries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def sentence_transformer(model_dir: Path) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(model_dir), device="cpu")


def encode_query(model: Any, text: str) -> np.ndarray:
    """One L2-normalised float32 vector."""
    vec = model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.asarray(vec[0], dtype=np.float32)
