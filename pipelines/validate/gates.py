"""Quality and latency gates as plain functions; the Dagster checks are thin wrappers.

Each gate returns a ``GateResult``; ``run_gates`` runs them all, writes ``gates.json`` into the
snapshot (bound to its manifest) and returns the report. An ERROR gate that failed blocks publish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.compliance import compliance, count_satisfying
from eval.harness import QueryRun, run_query, score_runs
from eval.suite import SuiteQuery, load_suite
from pipelines.publish.runlock import run_lock
from snapsearch.format import faults, layout
from snapsearch.format.ann import recall_at_k
from snapsearch.format.errors import SnapshotError
from snapsearch.format.gates import GateReport, GateResult, write_gate_report
from snapsearch.format.hashing import sha256_file
from snapsearch.format.model import Encoder, check_pin
from snapsearch.format.reader import Snapshot, open_snapshot
from snapsearch.format.verify import verify_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import GateSettings

GATE_NAMES = ("integrity", "compatibility", "ann_recall", "quality", "latency")


def gate_integrity(snapshot_dir: Path) -> GateResult:
    try:
        m = verify_snapshot(snapshot_dir, checksums=True)
    except SnapshotError as exc:
        return GateResult(passed=False, description=exc.message, metrics={})
    total = sum(f.bytes for f in m.files.values())
    return GateResult(
        passed=True,
        description=f"{len(m.files)} files present, sizes and sha256 match the manifest",
        metrics={"files": len(m.files), "bytes": total},
    )


def gate_compatibility(snapshot: Snapshot, encoder: Encoder) -> GateResult:
    try:
        check_pin(snapshot.manifest.model, encoder, where=f"snapshot {snapshot.snapshot_id}")
    except SnapshotError as exc:
        return GateResult(passed=False, description=exc.message)
    return GateResult(
        passed=True,
        description=(
            f"schema v{snapshot.manifest.schema_version}; installed model reproduces the pin "
            f"({snapshot.manifest.model.model_id}, canary within tolerance)"
        ),
        metrics={
            "schema_version": snapshot.manifest.schema_version, "dim": snapshot.manifest.model.dim
        },
    )


def gate_ann_recall(snapshot: Snapshot, *, minimum: float, queries: int) -> GateResult:
    """Recall@10 of hnsw against exact search, on evenly spaced rows perturbed slightly."""
    worst = 1.0
    per: dict[str, float] = {}
    for name, col in snapshot.collections.items():
        n = col.count
        if n == 0:
            continue
        idx = np.linspace(0, n - 1, num=min(queries, n)).astype(np.int64)
        rng = np.random.default_rng(12345)
        q = col.vectors[idx] + rng.normal(
            0, 0.05, size=(len(idx), col.vectors.shape[1])
        ).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        r = recall_at_k(col.ann, col.exact, q, k=10)
        per[name] = round(r, 4)
        worst = min(worst, r)
    passed = worst >= minimum
    return GateResult(
        passed=passed,
        description=f"ANN recall@10 vs exact = {worst:.4f} (minimum {minimum})",
        metrics={
            "recall@10": round(worst, 4), "minimum": minimum,
            **{f"recall@10.{k}": v for k, v in per.items()},
        },
    )


@dataclass(frozen=True)
class SuiteRun:
    runs: list[QueryRun]
    figures: dict[str, float]


def run_suite(
    engine: SearchEngine, suite: Sequence[SuiteQuery], mode: str = "hybrid",
    collection: str | None = None,
) -> SuiteRun:
    runs = [
        run_query(engine, q.id, q.query, mode, k=100, filters=q.filters,  # type: ignore[arg-type]
                  collection=collection)
        for q in suite
    ]
    gains = {q.id: {e: 1.0 for e in q.expected} for q in suite if q.expected}
    return SuiteRun(runs, score_runs(runs, gains))


def suite_compliance(
    engine: SearchEngine, suite: Sequence[SuiteQuery], runs: Sequence[QueryRun],
    collection: str | None,
) -> tuple[float, int] | None:
    """Mean compliance of the top results with the queries' constraints (parts suites), and the
    number of queries it covers; None when no query has constraints something can meet."""
    judged = [(q, r) for q, r in zip(suite, runs, strict=True) if q.constraints]
    if not judged:
        return None
    col = engine.snapshot.collection(collection)
    details = {str(d.get("lcsc", d.get("id"))): d for d in col.iter_details()}
    values = []
    for q, r in judged:
        assert q.constraints is not None
        satisfiable = count_satisfying(details.values(), q.constraints)
        c = compliance([details[i] for i in r.ids[:10] if i in details], q.constraints,
                       satisfiable)
        if c is not None:
            values.append(c)
    return (sum(values) / len(values), len(values)) if values else None


def _rr(run: QueryRun, expected: Sequence[str]) -> float:
    for i, rid in enumerate(run.ids[:10], 1):
        if rid in expected:
            return 1.0 / i
    return 0.0


def gate_quality(
    engine: SearchEngine,
    suite: Sequence[SuiteQuery],
    settings: GateSettings,
    baseline: SearchEngine | None = None,
    collection: str | None = None,
) -> GateResult:
    """The suite's figures on ``collection`` (default: the snapshot's first) against the
    thresholds, and against ``baseline`` (the published snapshot) when given."""
    cand = run_suite(engine, suite, collection=collection)
    f = cand.figures
    problems = []
    for key, minimum in (("hit@1", settings.hit1_min), ("hit@10", settings.hit10_min),
                         ("mrr@10", settings.mrr_min)):
        if f.get(key, 0.0) < minimum:
            problems.append(f"{key} {f.get(key, 0.0):.3f} < {minimum}")
    metrics: dict[str, object] = {k: round(v, 4) for k, v in f.items() if not k.endswith("_ms")}
    metrics.update({"min.hit@1": settings.hit1_min, "min.hit@10": settings.hit10_min,
                    "min.mrr@10": settings.mrr_min})
    comp = suite_compliance(engine, suite, cand.runs, collection)
    if comp is not None:
        metrics["compliance"], metrics["compliance_queries"] = round(comp[0], 4), comp[1]
    if baseline is not None:
        metrics["baseline_id"] = baseline.snapshot.snapshot_id
        metrics["regression_tolerance"] = settings.regression_tolerance
        base = run_suite(baseline, suite, collection=collection)
        for key in ("hit@10", "mrr@10", "ndcg@10"):
            drop = base.figures.get(key, 0.0) - f.get(key, 0.0)
            metrics[f"baseline.{key}"] = round(base.figures.get(key, 0.0), 4)
            if drop > settings.regression_tolerance:
                problems.append(
                    f"{key} dropped {drop:.3f} vs current {baseline.snapshot.snapshot_id} "
                    f"(tolerance {settings.regression_tolerance})"
                )
        worse = []
        for q, a, b in zip(suite, cand.runs, base.runs, strict=True):
            if q.expected and _rr(a, q.expected) < _rr(b, q.expected):
                worse.append({"id": q.id, "query": q.query, "rr": round(_rr(a, q.expected), 3),
                              "rr_current": round(_rr(b, q.expected), 3)})
        metrics["worse_queries"] = worse[:20]
        metrics["worse_count"] = len(worse)
    failed = [{"id": q.id, "query": q.query} for q, r in zip(suite, cand.runs, strict=True)
              if q.expected and not set(r.ids[:10]) & set(q.expected)]
    metrics["missed_at_10"] = failed[:20]
    desc = (
        f"suite of {int(f.get('queries', 0))} judged queries: hit@1 {f.get('hit@1', 0):.3f}, "
        f"hit@10 {f.get('hit@10', 0):.3f}, MRR@10 {f.get('mrr@10', 0):.3f}"
    )
    if problems:
        desc += "; FAILED: " + "; ".join(problems)
    return GateResult(passed=not problems, description=desc, metrics=metrics)


def gate_latency(
    engine: SearchEngine, suite: Sequence[SuiteQuery], settings: GateSettings,
    collection: str | None = None,
) -> GateResult:
    """In-process p50/p95 of uncached hybrid searches (each query text seen once).

    Without a suite, the queries come from each collection's own records, as its record kind
    writes them (``RecordKind.fallback_queries``): no parts queries for a text corpus."""
    texts = list(dict.fromkeys(q.query for q in suite))[: settings.latency_queries]
    jobs: list[tuple[str | None, str]] = [(collection, t) for t in texts]
    if not jobs:
        names = list(engine.snapshot.collections)
        per = max(1, settings.latency_queries // max(len(names), 1))
        for name in names:
            queries = engine.kind(name).fallback_queries(engine.collection(name), per)
            jobs += [(name, q) for q in dict.fromkeys(queries)]
    runs = [run_query(engine, f"lat-{i}", t, "hybrid", k=10, collection=c)
            for i, (c, t) in enumerate(jobs)]
    fig = score_runs(runs, {})
    p50, p95 = fig["p50_ms"], fig["p95_ms"]
    ok = p50 <= settings.latency_p50_ms and p95 <= settings.latency_p95_ms
    return GateResult(
        passed=ok,
        description=(
            f"hybrid search p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(runs)} uncached queries "
            f"(budgets {settings.latency_p50_ms} / {settings.latency_p95_ms} ms)"
        ),
        metrics={"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "queries": len(runs),
                 "budget_p50_ms": settings.latency_p50_ms,
                 "budget_p95_ms": settings.latency_p95_ms},
    )


def _skipped(why: str) -> GateResult:
    return GateResult(passed=False, description=f"not run: {why}")


def _under_run_lock(fn: Callable[..., GateReport]) -> Callable[..., GateReport]:
    """The gates read a snapshot and write its report: only the run in progress does that (a
    snapshot being judged is not a leftover to another process)."""

    @functools.wraps(fn)
    def wrapper(snapshot_dir: Path, *args: Any, **kwargs: Any) -> GateReport:
        with run_lock(snapshot_dir.parent):
            return fn(snapshot_dir, *args, **kwargs)

    return wrapper


@_under_run_lock
def run_gates(
    snapshot_dir: Path,
    encoder: Encoder,
    settings: GateSettings,
    *,
    suite_path: Path | None,
    baseline_dir: Path | None = None,
    now: datetime | None = None,
    collection: str | None = None,
) -> GateReport:
    """Run every gate, write gates.json into the snapshot and return the report. The suite and
    the latency queries search ``collection`` (default: the snapshot's first)."""
    results: dict[str, GateResult] = {"integrity": gate_integrity(snapshot_dir)}
    snapshot = None
    if results["integrity"].passed:
        snapshot = open_snapshot(snapshot_dir)
    try:
        if snapshot is None:
            for name in GATE_NAMES[1:]:
                results[name] = _skipped("integrity failed")
        else:
            results["compatibility"] = gate_compatibility(snapshot, encoder)
            results["ann_recall"] = gate_ann_recall(
                snapshot, minimum=settings.ann_recall_min, queries=settings.ann_recall_queries
            )
            if not results["compatibility"].passed:
                results["quality"] = _skipped("the installed model does not match the pin")
                results["latency"] = _skipped("the installed model does not match the pin")
            else:
                suite = load_suite(suite_path) if suite_path else []
                if suite:
                    baseline = _open_baseline(baseline_dir, snapshot_dir, encoder, collection)
                    try:
                        results["quality"] = gate_quality(
                            SearchEngine(snapshot, encoder), suite, settings,
                            SearchEngine(baseline, encoder) if baseline else None,
                            collection=collection,
                        )
                    finally:
                        if baseline:
                            baseline.close()
                else:
                    results["quality"] = GateResult(
                        passed=True, severity="WARN", description="no query suite configured"
                    )
                results["latency"] = gate_latency(
                    SearchEngine(snapshot, encoder, query_cache=0), suite, settings,
                    collection=collection,
                )
    finally:
        if snapshot is not None:
            snapshot.close()
    report = GateReport(
        snapshot_id=snapshot_dir.name,
        manifest_sha256=sha256_file(snapshot_dir / layout.MANIFEST),
        ran_at=(now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        gates=results,
    )
    faults.point("gates.judged")
    write_gate_report(snapshot_dir, report)
    faults.point("gates.reported")
    return report


def _open_baseline(
    baseline_dir: Path | None, candidate: Path, encoder: Encoder, collection: str | None
) -> Snapshot | None:
    """The snapshot `current` points at, when it is another one, compatible and holds the
    collection; else None."""
    if baseline_dir is None or baseline_dir.resolve() == candidate.resolve():
        return None
    try:
        snap = open_snapshot(baseline_dir)
    except SnapshotError:
        return None
    try:
        check_pin(snap.manifest.model, encoder, where="baseline")
    except SnapshotError:
        snap.close()
        return None
    if collection is not None and collection not in snap.collections:
        snap.close()
        return None
    return snap
