"""The corpora the peers are compared on, exported once for every system.

Each corpus is built into a snapsearch eval snapshot through the pipeline code (embeddings reused
from the store's cache), then exported to a folder every peer builds its index from: the records'
embedded text (the kind's own template, what snapsearch embedded) and their vectors, in snapshot
order, and the text of its lexical fields (what snapsearch's BM25 indexes, for the peers' full-text
indexes). Index building is not a compared figure, so the peers take these vectors instead of
encoding the corpus again; every system still encodes the *queries* with its own runtime.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.drivers.beir import load_beir
from eval.drivers.build import build_eval_snapshot
from eval.drivers.peer_files import DOCS, META, QUERIES, VECTORS
from eval.suite import load_suite
from snapsearch.format.model import Encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import RejectRecord, get_kind

EXPORT_VERSION = 2  # 2: docs carry "lexical"


@dataclass(frozen=True)
class PeerCorpus:
    name: str
    kind: str
    collection: str
    source: Path
    queries: list[tuple[str, str]]  # (id, text): every one is timed
    gains: dict[str, dict[str, float]]  # judged queries only are scored
    note: str = ""
    suite: Path | None = None  # the query suite snapsearch's validate gates run (None: none)


@dataclass(frozen=True)
class Prepared:
    corpus: PeerCorpus
    dir: Path  # docs.jsonl, vectors.npy, meta.json
    queries: Path
    snapshot: Path
    digest: str
    docs: int
    meta: dict[str, Any] = field(default_factory=dict)


def scifact_corpus(path: Path, split: str = "test") -> PeerCorpus:
    queries, qrels = load_beir(path, split)
    return PeerCorpus("scifact", "text", "docs", path / "corpus.jsonl", list(queries.items()),
                      qrels, note=f"BEIR {path.name}, {split} split, {len(queries)} judged queries")


def parts_corpus(source: Path, suite_path: Path) -> PeerCorpus:
    """The suite's queries that carry no API filter (a peer has none to apply)."""
    suite = [q for q in load_suite(suite_path) if not q.filters]
    gains = {q.id: {e: 1.0 for e in q.expected} for q in suite if q.expected}
    return PeerCorpus("parts-25k", "parts", "parts", source, [(q.id, q.query) for q in suite],
                      gains, note=f"{suite_path.name}: the {len(suite)} queries without filters "
                      f"({len(gains)} with expected ids)", suite=suite_path)


def first_queries(corpus: PeerCorpus, n: int | None) -> PeerCorpus:
    """The corpus with only its first ``n`` queries timed and scored (a smoke run)."""
    if n is None or n >= len(corpus.queries):
        return corpus
    kept = corpus.queries[:n]
    ids = {i for i, _ in kept}
    return replace(corpus, queries=kept, gains={q: g for q, g in corpus.gains.items() if q in ids},
                   note=f"{corpus.note}; only the first {n} queries (--max-queries)")


def _records(path: Path) -> list[Any]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        return [json.loads(line) for line in f if line.strip()]


def embedded_texts(source: Path, kind_name: str) -> dict[str, tuple[str, str]]:
    """Record id -> (the text the kind embeds, the text of its lexical fields joined): what
    snapsearch embeds and what its BM25 indexes (a peer's full-text index gets the same words,
    e.g. a part's LCSC code, which is not in the embedded text). The first record of an id wins,
    as in the build."""
    kind = get_kind(kind_name)
    out: dict[str, tuple[str, str]] = {}
    for raw in _records(source):
        try:
            row = kind.to_row(raw)
        except RejectRecord:
            continue
        lexical = " ".join(str(v) for v in row.lexical.values() if v not in (None, ""))
        out.setdefault(row.id, (row.text, lexical))
    return out


def _suite(corpus: PeerCorpus) -> str | None:
    return str(corpus.suite.resolve()) if corpus.suite else None


def prepare(corpus: PeerCorpus, root: Path, work: Path, encoder: Encoder,
            log=print) -> Prepared:  # type: ignore[no-untyped-def]
    """Build (or reuse) the eval snapshot and export it for the peers (reused when unchanged)."""
    snap_dir = build_eval_snapshot(corpus.source, root, corpus.kind, corpus.collection, encoder,
                                   log=log)
    out = work / corpus.name / "corpus"
    queries = work / corpus.name / QUERIES
    out.mkdir(parents=True, exist_ok=True)
    queries.write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                               for i, t in corpus.queries), encoding="utf-8")
    meta_path = out / META
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (meta.get("snapshot") == str(snap_dir) and (out / VECTORS).is_file()
                and meta.get("suite") == _suite(corpus)
                and meta.get("export") == EXPORT_VERSION):
            return Prepared(corpus, out, queries, snap_dir, meta["digest"], meta["docs"], meta)
    log(f"exporting {corpus.name} for the peers")
    texts = embedded_texts(corpus.source, corpus.kind)
    with open_snapshot(snap_dir) as snap:
        col = snap.collection(corpus.collection)
        ids = [str(r[0]) for r in col.conn.execute(f"SELECT id FROM {col.lookup} ORDER BY pos")]
        vectors = np.ascontiguousarray(col.vectors, dtype=np.float32)
        model = snap.manifest.model
    missing = [i for i in ids if i not in texts]
    if missing:
        raise ValueError(f"{corpus.source}: {len(missing)} snapshot ids have no record "
                         f"(first {missing[:3]}); rebuild the eval snapshot")
    docs = "".join(json.dumps({"id": i, "text": texts[i][0], "lexical": texts[i][1]},
                              ensure_ascii=False) + "\n" for i in ids).encode("utf-8")
    (out / DOCS).write_bytes(docs)
    np.save(out / VECTORS, vectors, allow_pickle=False)
    digest = hashlib.sha256(docs + vectors.tobytes()).hexdigest()
    meta = {"snapshot": str(snap_dir), "collection": corpus.collection, "kind": corpus.kind,
            "docs": len(ids), "dim": int(vectors.shape[1]), "digest": digest,
            "model_fingerprint": model.fingerprint, "suite": _suite(corpus),
            "export": EXPORT_VERSION}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return Prepared(corpus, out, queries, snap_dir, digest, len(ids), meta)

