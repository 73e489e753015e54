"""txtai as a peer: ``Embeddings`` with the hnsw backend, content stored, hybrid (dense + BM25,
txtai's default convex fusion at weight 0.5), the pinned model through sentence-transformers.

BM25 indexes each doc's lexical text (the words snapsearch's BM25 indexes). The index is built
from the exported vectors (txtai's ``external`` method with a lookup transform)
and then saved as the plain sentence-transformers index txtai itself would write, so loading and
every query go through txtai's own sentence-transformers path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eval.drivers.peer_files import read_docs, read_lexical

MODES = ("hybrid",)


def _config(model_dir: Path) -> dict[str, Any]:
    return {"path": str(model_dir), "method": "sentence-transformers", "backend": "hnsw",
            "content": True, "hybrid": True}


def build(corpus: Path, index_dir: Path, model_dir: Path) -> None:
    from txtai import Embeddings

    ids, _, vectors = read_docs(corpus)
    texts = read_lexical(corpus)  # what BM25 indexes: the words snapsearch's BM25 sees
    by_text: dict[str, np.ndarray] = {}
    for text, vec in zip(texts, vectors, strict=True):
        if text in by_text and not np.array_equal(by_text[text], vec):
            raise ValueError(f"two docs share the text {text[:60]!r} but not their vectors")
        by_text[text] = vec

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
