"""Quality and latency gates as plain functions; the Dagster checks are thin wrappers.

Each gate returns a ``GateResult``; ``run_gates`` runs them all, writes the gate report beside
the snapshot (``<root>/_gates/<id>.json``, sealed and bound to its manifest) and returns it. An
ERROR gate that failed blocks publish. The latency gate lives in ``latency``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import ExitStack
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
from snapsearch.format.reader import Snapshot, connect_readonly, open_snapshot
from snapsearch.format.verify import verify_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import GateSettings

from .encoder import gate_query_encoder
from .latency import gate_latency
from .policy_gates import gate_exclusions, prior_problems

__all__ = [
    "GATE_NAMES", "gate_ann_recall", "gate_compatibility", "gate_exclusions", "gate_integrity",
    "gate_latency", "gate_query_encoder", "gate_quality", "run_gates",
]
REJECT_EXAMPLES = 10

GATE_NAMES = (
    "integrity", "compatibility", "query_encoder", "ann_recall", "quality", "latency",
    "exclusions",
)


def gate_integrity(snapshot_dir: Path) -> GateResult:
    """The sealed manifest and every file it lists; and what the build rejected, counted (the
    reject rate itself was enforced by the build)."""
    try:
        m = verify_snapshot(snapshot_dir, checksums=True, gates="ignore")
    except SnapshotError as exc:
        return GateResult(passed=False, description=exc.message, metrics={})
    total = sum(f.bytes for f in m.files.values())
    records = sum(c.records for c in m.collections.values())
    rejects = sum(c.rejects for c in m.collections.values())
    rate = rejects / (records + rejects) if records + rejects else 0.0
    metrics: dict[str, object] = {
        "files": len(m.files), "bytes": total, "records": records, "rejects": rejects,
        "reject_rate": round(rate, 6),
    }
    if len(m.collections) > 1:
        metrics |= {f"rejects.{n}": c.rejects for n, c in m.collections.items()}
    if rejects:
        metrics["reject_examples"] = _reject_examples(snapshot_dir)
    return GateResult(
        passed=True,
        description=(
            f"{len(m.files)} files present, sizes and sha256 match the sealed manifest; "
            f"{records:,} records, {rejects:,} rejected ({rate:.2%})"
        ),
        metrics=metrics,
    )


def _reject_examples(snapshot_dir: Path) -> list[str]:
    """The first rejects, as '<collection>: <file> line <n>: <reason>'."""
    conn = connect_readonly(snapshot_dir / layout.SQLITE)
    try:
        rows = conn.execute(
            f"SELECT collection, line, reason FROM {layout.REJECTS_TABLE} ORDER BY rowid "
            f"LIMIT {REJECT_EXAMPLES}"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for collection, line, reason in rows:
        name, sep, why = str(reason).partition(": ")
        out.append(f"{collection}: {name} line {line}: {why}" if sep else
                   f"{collection}: line {line}: {reason}")
    return out


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
    without_priors: SearchEngine | None = None,
) -> GateResult:
    """The suite's figures on ``collection`` (default: the snapshot's first) against the
    thresholds, against ``baseline`` (the published snapshot) when given, and against the same
    snapshot ranked without its feedback priors (``without_priors``) when it has any."""
    cand = run_suite(engine, suite, collection=collection)
    f = cand.figures
    problems = []
    prior_metrics: dict[str, object] = {}
    if without_priors is not None:
        found, prior_metrics = prior_problems(
            f, run_suite(without_priors, suite, collection=collection).figures
        )
        problems += found
    for key, minimum in (("hit@1", settings.hit1_min), ("hit@10", settings.hit10_min),
                         ("mrr@10", settings.mrr_min)):
        if f.get(key, 0.0) < minimum:
            problems.append(f"{key} {f.get(key, 0.0):.3f} < {minimum}")
    metrics: dict[str, object] = {k: round(v, 4) for k, v in f.items() if not k.endswith("_ms")}
    metrics.update(prior_metrics)
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
    if prior_metrics:
        desc += (f"; without feedback priors: hit@1 {prior_metrics['without_priors.hit@1']:.3f}, "
                 f"hit@10 {prior_metrics['without_priors.hit@10']:.3f}, "
                 f"MRR@10 {prior_metrics['without_priors.mrr@10']:.3f}")
    if problems:
        desc += "; FAILED: " + "; ".join(problems)
    return GateResult(passed=not problems, description=desc, metrics=metrics)


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
    """Run every gate, write the gate report beside the snapshot and return it. The suite and
    the latency queries search ``collection`` (default: the snapshot's first); ``baseline_dir``
    (the published snapshot) is the yardstick of the quality and latency gates."""
    results: dict[str, GateResult] = {"integrity": gate_integrity(snapshot_dir)}
    query_encoder: Encoder | None = None
    with ExitStack() as opened:
        snapshot = None
        if results["integrity"].passed:
            snapshot = opened.enter_context(open_snapshot(snapshot_dir, gates="ignore"))
        if snapshot is None:
            for name in GATE_NAMES[1:]:
                results[name] = _skipped("integrity failed")
        else:
            results["compatibility"] = gate_compatibility(snapshot, encoder)
            results["ann_recall"] = gate_ann_recall(
                snapshot, minimum=settings.ann_recall_min, queries=settings.ann_recall_queries
            )
            results["exclusions"] = gate_exclusions(snapshot)
            if not results["compatibility"].passed:
                for name in ("query_encoder", "quality", "latency"):
                    results[name] = _skipped("the installed model does not match the pin")
            else:
                baseline = _open_baseline(baseline_dir, snapshot_dir, encoder, collection)
                if baseline is not None:
                    opened.enter_context(baseline)
                suite = load_suite(suite_path) if suite_path else []
                results["query_encoder"], query_encoder = gate_query_encoder(
                    snapshot, encoder, suite, settings, collection
                )
                if suite:
                    has_priors = snapshot.manifest.priors is not None
                    results["quality"] = gate_quality(
                        SearchEngine(snapshot, encoder), suite, settings,
                        SearchEngine(baseline, encoder) if baseline else None,
                        collection=collection,
                        without_priors=(
                            SearchEngine(snapshot, encoder, priors=False) if has_priors else None
                        ),
                    )
                else:
                    results["quality"] = GateResult(
                        passed=True, severity="WARN", description="no query suite configured"
                    )
                # what serve runs: the snapshot's query encoder (the build model if it is unfit)
                results["latency"] = gate_latency(
                    SearchEngine(snapshot, query_encoder or encoder, query_cache=0), suite,
                    settings, collection=collection,
                    baseline=SearchEngine(baseline, query_encoder or encoder, query_cache=0)
                    if baseline else None,
                )
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
        snap = open_snapshot(baseline_dir, gates="ignore")
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
