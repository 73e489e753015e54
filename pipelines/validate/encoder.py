"""The query encoder gate: the encoder a snapshot carries answers as the model it was built with.

Serve encodes queries with the snapshot's own query encoder (the ONNX export, no torch), while
the stored vectors come from the build model. The gate (blocking) checks, on a fixed sample of
queries (the suite's, then queries drawn from each collection's own records by its kind):

- the query encoder's files match the pin and it reproduces the pinned canary;
- cosine(query encoder, build model) >= ``encoder_cosine_min`` (0.9999) for every text;
- the suite's nDCG@10, hybrid and vector, differ by at most ``encoder_ndcg_tolerance`` (0.002)
  whichever encoder answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.harness import run_query, score_runs
from eval.suite import SuiteQuery
from snapsearch.format.errors import SnapshotError
from snapsearch.format.gates import GateResult
from snapsearch.format.model import Encoder
from snapsearch.format.model_query import open_query_encoder
from snapsearch.format.reader import Snapshot
from snapsearch.kinds import get_kind
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import GateSettings

SUITE_TEXTS = 200  # suite queries in the sample, at most
RECORD_TEXTS = 60  # queries drawn from each collection's records
MODES = ("hybrid", "vector")


def encoder_sample(snapshot: Snapshot, suite: Sequence[SuiteQuery]) -> list[str]:
    """The fixed sample: the suite's queries, then each collection's fallback queries (drawn
    evenly from its records by its kind: part numbers, descriptions, "<category> <package>")."""
    texts = list(dict.fromkeys(q.query for q in suite))[:SUITE_TEXTS]
    for col in snapshot.collections.values():
        texts += get_kind(col.info.kind).fallback_queries(col, RECORD_TEXTS)
    return [t for t in dict.fromkeys(texts) if t.strip()]


def _ndcg(engine: SearchEngine, suite: Sequence[SuiteQuery], mode: str,
          collection: str | None) -> float:
    runs = [
        run_query(engine, q.id, q.query, mode, k=10, filters=q.filters,  # type: ignore[arg-type]
                  collection=collection)
        for q in suite
    ]
    gains = {q.id: {e: 1.0 for e in q.expected} for q in suite if q.expected}
    return float(score_runs(runs, gains).get("ndcg@10", 0.0))


def compare_encoders(
    snapshot: Snapshot, query_encoder: Encoder, reference: Encoder,
    suite: Sequence[SuiteQuery], settings: GateSettings, collection: str | None = None,
) -> GateResult:
    """The gate's figures for two encoders over ``snapshot`` (the failing fixtures pass a
    drifted ``query_encoder``)."""
    texts = encoder_sample(snapshot, suite)
    a = query_encoder.encode(texts)
    b = reference.encode(texts)
    cos = np.sum(a * b, axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
    )
    worst = np.argsort(cos)[:5]
    min_cos = float(cos.min()) if len(cos) else 1.0
    problems: list[str] = []
    if min_cos < settings.encoder_cosine_min:
        problems.append(f"minimum cosine {min_cos:.6f} < {settings.encoder_cosine_min}")
    metrics: dict[str, Any] = {
        "texts": len(texts),
        "min_cosine": round(min_cos, 7),
        "mean_cosine": round(float(cos.mean()) if len(cos) else 1.0, 7),
        "cosine_min_required": settings.encoder_cosine_min,
        "worst_texts": [{"text": texts[i], "cosine": round(float(cos[i]), 7)} for i in worst],
    }
    judged = [q for q in suite if q.expected]
    if judged:
        served = SearchEngine(snapshot, query_encoder, query_cache=0)
        built = SearchEngine(snapshot, reference, query_cache=0)
        for mode in MODES:
            x, y = _ndcg(served, judged, mode, collection), _ndcg(built, judged, mode, collection)
            gap = abs(x - y)
            metrics[f"ndcg@10.{mode}"] = round(x, 4)
            metrics[f"ndcg@10.{mode}.build_model"] = round(y, 4)
            metrics[f"ndcg@10.{mode}.gap"] = round(gap, 4)
            if gap > settings.encoder_ndcg_tolerance:
                problems.append(
                    f"{mode} nDCG@10 {x:.4f} vs {y:.4f} with the build model "
                    f"(gap {gap:.4f} > {settings.encoder_ndcg_tolerance})"
                )
        metrics["ndcg_tolerance"] = settings.encoder_ndcg_tolerance
    quality = (
        f"; suite nDCG@10 hybrid {metrics['ndcg@10.hybrid']:.4f} vs "
        f"{metrics['ndcg@10.hybrid.build_model']:.4f}" if judged else "; no judged suite queries"
    )
    desc = (
        f"query encoder ({snapshot.manifest.model.query_encoder}) vs the build model over "
        f"{len(texts)} texts: min cosine {min_cos:.7f}{quality}"
    )
    if problems:
        desc += "; FAILED: " + "; ".join(problems)
    return GateResult(passed=not problems, description=desc, metrics=metrics)


def gate_query_encoder(
    snapshot: Snapshot, reference: Encoder, suite: Sequence[SuiteQuery],
    settings: GateSettings, collection: str | None = None,
) -> tuple[GateResult, Encoder | None]:
    """The gate, and the snapshot's query encoder when it could be opened (the latency gate
    then measures what serve runs)."""
    try:
        query_encoder = open_query_encoder(snapshot.path, snapshot.manifest.model)
    except SnapshotError as exc:
        return GateResult(passed=False, description=exc.message), None
    return compare_encoders(snapshot, query_encoder, reference, suite, settings, collection), (
        query_encoder
    )
