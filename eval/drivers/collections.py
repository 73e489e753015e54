"""Several collections, one answer, measured: a two-collection snapshot (the parts catalogue and
a text corpus) and a suite of queries each meant for one of them.

The suite is the parts suite's judged queries (meant for ``parts``) and the first ``--text-queries``
judged queries of the BEIR corpus's test split (meant for ``docs``). Every query is searched over
both collections at once (``POST /v1/search`` with ``collections``); per query kind it reports

- ``intended@1``: the first hit comes from the collection the query is meant for;
- ``relevant_first``: the best-ranked relevant hit ranks above every hit of the other collection
  (of queries with a relevant hit in the merged top ``k``);
- ``other_in_top10``: hits of the other collection in the top 10 (mean);
- ``ndcg@10`` of the merged list against the same query on its own collection (``ndcg@10.alone``):
  what merging costs;
- ``confidence.own`` / ``confidence.other``: mean confidence of each collection for the query;

both for the calibrated merge (``calibrated``) and for a naive merge by each collection's raw
score (``raw``), which is what calibration buys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.drivers.beir import load_beir
from eval.metrics import ndcg_at_k
from eval.suite import load_suite
from pipelines.fetch import fetch_source
from pipelines.progress import make_progress
from pipelines.transform.build import CollectionSpec, build_options, build_snapshot, inputs_digest
from snapsearch.format import layout
from snapsearch.format.model import Encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.multi import MultiHit, MultiSearchRequest, search_collections
from snapsearch.settings import Collection, PipelineSettings

Log = Callable[[str], None]
K = 10
DEPTH = 20


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    collection: str  # the collection it is meant for
    gains: dict[str, float]  # relevant ids (in that collection) -> gain


def build_snapshot_of(
    collections: Sequence[Collection], root: Path, encoder: Encoder, log: Log = print,
    settings: PipelineSettings | None = None,
) -> Path:
    """A snapshot of ``collections`` built by the pipeline's functions (an identical one is
    reused)."""
    s = (settings or PipelineSettings()).model_copy(update={"collections": list(collections)})
    specs = [CollectionSpec(c.name, c.kind, fetch_source(c.source, root)) for c in collections]
    options = build_options(s)
    digest = inputs_digest(specs, options, encoder.pin.fingerprint)
    for d in reversed(layout.list_snapshot_dirs(root)):
        if layout.parse_snapshot_id(d.name).matches(digest):
            log(f"reusing snapshot {d.name} (same inputs)")
            return d
    result = build_snapshot(root, specs, encoder, options, log=log,
                            progress=make_progress("encode", log))
    log(f"built {result.snapshot_id}: {result.records} records ({result.reused} embeddings "
        f"reused, {result.encoded} encoded in {result.timings['encode_s']:.1f} s)")
    return result.path


def suite_queries(parts_suite: Path, beir: Path, text_queries: int) -> list[Query]:
    out = [Query(q.id, q.query, "parts", {e: 1.0 for e in q.expected})
           for q in load_suite(parts_suite) if q.expected and not q.filters]
    queries, qrels = load_beir(beir, "test")
    for qid, text in list(queries.items())[:text_queries]:
        out.append(Query(f"docs-{qid}", text, "docs",
                         {d: g for d, g in qrels[qid].items() if g > 0}))
    return out


def _raw_order(hits: Sequence[MultiHit]) -> list[MultiHit]:
    """The same hits merged by each collection's own score (no calibration)."""
    return sorted(hits, key=lambda h: -h.scores["collection"])


def _figures(query: Query, ranked: Sequence[MultiHit], alone: list[str]) -> dict[str, float]:
    own = [h.collection == query.collection for h in ranked]
    rel = [h.collection == query.collection and h.id in query.gains for h in ranked]
    first_rel = rel.index(True) if True in rel else None
    first_other = own.index(False) if False in own else len(ranked)
    ids = [h.id if h.collection == query.collection else f"<other>{h.id}" for h in ranked]
    out = {
        "intended@1": float(bool(own) and own[0]),
        "other_in_top10": float(sum(1 for o in own[:K] if not o)),
        "ndcg@10": ndcg_at_k(ids, query.gains, K),
        "ndcg@10.alone": ndcg_at_k(alone, query.gains, K),
    }
    if first_rel is not None:
        out["relevant_first"] = float(first_rel < first_other)
    return out


def _mean(rows: Sequence[dict[str, float]], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return round(sum(vals) / len(vals), 4) if vals else None


def measure(snapshot_dir: Path, encoder: Encoder, queries: Sequence[Query],
            log: Log = print) -> dict[str, Any]:
    """Per intended collection (and overall): the figures of the module doc."""
    rows: dict[str, dict[str, list[dict[str, float]]]] = {}
    with open_snapshot(snapshot_dir) as snap:
        engine = SearchEngine(snap, encoder, query_cache=4 * len(queries) + 10)
        names = list(snap.collections)
        for i, q in enumerate(queries):
            resp = search_collections(engine, MultiSearchRequest(query=q.text, limit=DEPTH))
            alone = [h.id for h in resp.hits if h.collection == q.collection]
            conf = {n: r.confidence for n, r in resp.per_collection.items()}
            for label, ranked in (("calibrated", resp.hits), ("raw", _raw_order(resp.hits))):
                f = _figures(q, ranked, alone)
                f["confidence.own"] = conf[q.collection]
                f["confidence.other"] = max(v for n, v in conf.items() if n != q.collection)
                rows.setdefault(label, {}).setdefault(q.collection, []).append(f)
            if (i + 1) % 50 == 0:
                log(f"{i + 1} / {len(queries)} queries")
        keys = ["intended@1", "relevant_first", "other_in_top10", "ndcg@10", "ndcg@10.alone",
                "confidence.own", "confidence.other"]
        out: dict[str, Any] = {"collections": names, "queries": {}}
        for label, by_col in rows.items():
            out[label] = {}
            for col, rs in [*by_col.items(), ("all", [r for v in by_col.values() for r in v])]:
                out[label][col] = {k: _mean(rs, k) for k in keys}
                out["queries"][col] = len(rs)
        return out


def corpus_subset(beir: Path, text_queries: int, max_docs: int, out: Path) -> Path:
    """A corpus of at most ``max_docs`` documents: every document judged relevant to the first
    ``text_queries`` test queries, then others evenly spaced over the corpus (deterministic)."""
    queries, qrels = load_beir(beir, "test")
    relevant = {d for qid in list(queries)[:text_queries] for d in qrels[qid]}
    lines = (beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [(str(json.loads(line)["_id"]), line) for line in lines if line.strip()]
    keep = [line for did, line in docs if did in relevant]
    others = [line for did, line in docs if did not in relevant]
    room = max(0, max_docs - len(keep))
    step = max(1, len(others) // room) if room else len(others) + 1
    keep += others[::step][:room]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "corpus.jsonl"
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
    return path


def evaluate_collections(
    parts_source: Path, parts_suite: Path, beir: Path, root: Path, encoder: Encoder, *,
    text_queries: int = 100, max_docs: int = 0, log: Log = print,
) -> dict[str, Any]:
    """``max_docs``: build the text collection from a subset of the corpus (0: all of it)."""
    corpus = beir / "corpus.jsonl"
    if max_docs:
        corpus = corpus_subset(beir, text_queries, max_docs,
                               root.parent / f"{beir.name}-{max_docs}-docs")
    collections = [
        Collection(name="parts", kind="parts", source=str(parts_source)),
        Collection(name="docs", kind="text", source=str(corpus)),
    ]
    snap_dir = build_snapshot_of(collections, root, encoder, log)
    queries = suite_queries(parts_suite, beir, text_queries)
    figures = measure(snap_dir, encoder, queries, log)
    figures["snapshot_id"] = snap_dir.name
    figures["text_docs"] = sum(1 for line in corpus.open(encoding="utf-8") if line.strip())
    return figures


def print_figures(figures: dict[str, Any]) -> None:
    keys = ["intended@1", "relevant_first", "other_in_top10", "ndcg@10", "ndcg@10.alone",
            "confidence.own", "confidence.other"]
    print(f"\n{'merge':<11}{'meant for':<10}{'queries':>8}" + "".join(f"{k:>17}" for k in keys))
    for label in ("calibrated", "raw"):
        for col, f in figures.get(label, {}).items():
            cells = "".join(f"{f[k]:>17.3f}" if isinstance(f.get(k), float) else f"{'-':>17}"
                            for k in keys)
            print(f"{label:<11}{col:<10}{figures['queries'][col]:>8}{cells}")


def dump(figures: dict[str, Any]) -> str:
    return json.dumps(figures, indent=2, sort_keys=True)
