"""txtai as a peer: ``Embeddings`` with the hnsw backend, content stored, hybrid (dense + BM25,
txtai's default convex fusion at weight 0.5), the pinned model through sentence-transformers.

The index is built from the exported vectors (txtai's ``external`` method with a lookup transform)
and then saved as the plain sentence-transformers index txtai itself would write, so loading and
every query go through txtai's own sentence-transformers path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eval.drivers.peer_files import read_docs

MODES = ("hybrid",)


def _config(model_dir: Path) -> dict[str, Any]:
    return {"path": str(model_dir), "method": "sentence-transformers", "backend": "hnsw",
            "content": True, "hybrid": True}


def build(corpus: Path, index_dir: Path, model_dir: Path) -> None:
    from txtai import Embeddings

    ids, texts, vectors = read_docs(corpus)
    by_text = dict(zip(texts, vectors, strict=True))

    def lookup(batch: list[str]) -> np.ndarray:
        return np.stack([by_text[t] for t in batch])

    emb = Embeddings({**_config(model_dir), "method": "external", "transform": lookup})
    emb.index([(i, t, None) for i, t in zip(ids, texts, strict=True)])
    emb.config.pop("transform", None)
    emb.config.update(_config(model_dir))
    emb.save(str(index_dir / "txtai"))
    emb.close()


class TxtaiIndex:
    def __init__(self, index_dir: Path, model_dir: Path) -> None:
        import torch
        from txtai import Embeddings

        torch.set_num_threads(1)
        self.emb = Embeddings()
        self.emb.load(str(index_dir / "txtai"))

    def search(self, text: str, k: int) -> list[str]:
        return [str(r["id"]) for r in self.emb.search(text, k)]

    def close(self) -> None:
        self.emb.close()


def open_index(index_dir: Path, model_dir: Path, mode: str) -> TxtaiIndex:
    return TxtaiIndex(index_dir, model_dir)
