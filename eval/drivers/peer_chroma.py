"""Chroma as a peer: a persistent collection (its hnsw index, cosine space, documents stored),
vector search only (Chroma has no BM25); the query vector from sentence-transformers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.drivers.peer_files import read_docs
from eval.drivers.peer_st import encode_query, sentence_transformer

MODES = ("vector",)
COLLECTION = "docs"


def _client(index_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(index_dir / "chroma"),
                                     settings=Settings(anonymized_telemetry=False))


def build(corpus: Path, index_dir: Path, model_dir: Path) -> None:
    ids, texts, vectors = read_docs(corpus)
    client = _client(index_dir)
    col = client.create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}},
                                   embedding_function=None)
    step = client.get_max_batch_size()
    for i in range(0, len(ids), step):
        col.add(ids=ids[i:i + step], embeddings=vectors[i:i + step],
                documents=texts[i:i + step])


class ChromaIndex:
    def __init__(self, index_dir: Path, model_dir: Path) -> None:
        self.model = sentence_transformer(model_dir)
        self.col = _client(index_dir).get_collection(COLLECTION, embedding_function=None)

    def search(self, text: str, k: int) -> list[str]:
        vec = encode_query(self.model, text)
        res = self.col.query(query_embeddings=[vec], n_results=k, include=[])
        return [str(i) for i in res["ids"][0]]


def open_index(index_dir: Path, model_dir: Path, mode: str) -> ChromaIndex:
    return ChromaIndex(index_dir, model_dir)
