"""The exported corpus a peer builds from (written by ``peer_corpus``; light to import)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DOCS, VECTORS, META, QUERIES = "docs.jsonl", "vectors.npy", "meta.json", "queries.jsonl"


def read_docs(corpus_dir: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(ids, texts, float32 vectors) in snapshot order."""
    ids, texts = [], []
    with open(corpus_dir / DOCS, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            ids.append(str(o["id"]))
            texts.append(str(o["text"]))
    vectors = np.load(corpus_dir / VECTORS, allow_pickle=False).astype(np.float32, copy=False)
    if len(vectors) != len(ids):
        raise ValueError(f"{corpus_dir}: {len(ids)} docs but {len(vectors)} vectors; export again")
    return ids, texts, vectors


def read_lexical(corpus_dir: Path) -> list[str]:
    """Each doc's lexical text (its kind's lexical fields joined: what snapsearch's BM25 indexes)
    in snapshot order; the embedded text where an export has none."""
    with open(corpus_dir / DOCS, encoding="utf-8") as f:
        return [str(o.get("lexical") or o["text"]) for o in map(json.loads, f)]


def read_meta(corpus_dir: Path) -> dict[str, object]:
    return dict(json.loads((corpus_dir / META).read_text(encoding="utf-8")))
