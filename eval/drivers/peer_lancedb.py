"""LanceDB as a peer: one table (id, text, vector), a native full-text index on the text (each
doc's lexical text: the words snapsearch's BM25 indexes), and
hybrid search (vector + FTS, LanceDB's default RRF reranker); the query vector from
sentence-transformers. No ANN index: at these sizes LanceDB searches the vectors exhaustively
(exact), which is what it does until an index is created.
"""

from __future__ import annotations

from pathlib import Path

from eval.drivers.peer_files import read_docs, read_lexical
from eval.drivers.peer_st import encode_query, sentence_transformer

MODES = ("hybrid",)
TABLE = "docs"


def build(corpus: Path, index_dir: Path, model_dir: Path) -> None:
    import lancedb
    import pyarrow as pa

    ids, _, vectors = read_docs(corpus)
    texts = read_lexical(corpus)  # what the FTS index holds: the words snapsearch's BM25 sees
    dim = int(vectors.shape[1])
    data = pa.table({
        "id": pa.array(ids, pa.string()),
        "text": pa.array(texts, pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
    })
    db = lancedb.connect(str(index_dir / "lancedb"))
    table = db.create_table(TABLE, data=data, mode="overwrite")
    table.create_fts_index("text", replace=True)


class LanceIndex:
    def __init__(self, index_dir: Path, model_dir: Path) -> None:
        import lancedb

        self.model = sentence_transformer(model_dir)
        self.table = lancedb.connect(str(index_dir / "lancedb")).open_table(TABLE)

    def search(self, text: str, k: int) -> list[str]:
        vec = encode_query(self.model, text)
        rows = (self.table.search(query_type="hybrid").vector(vec).text(text)
                .limit(k).select(["id"]).to_list())
        return [str(r["id"]) for r in rows]


def open_index(index_dir: Path, model_dir: Path, mode: str) -> LanceIndex:
    return LanceIndex(index_dir, model_dir)
