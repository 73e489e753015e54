"""The latency gate: warm up, measure the configured number of queries, and judge the candidate
against the published snapshot measured in the same run when there is one.

Why not one cold pass against an absolute budget: on a shared machine a few cold, un-warmed
queries measure the neighbours, not the snapshot (a 25k build failed at p50 113.7 ms against
50 ms while it answers in ~17 ms warm). So:

1. the queries: the suite's (distinct texts), topped up to ``latency_queries`` with queries drawn
   from the snapshot's own records by their kind (``RecordKind.fallback_queries``);
2. ``latency_warmup`` of them run first on each snapshot, unmeasured (pages, caches, the model);
3. each query is timed as *service time*: ``min(wall, process CPU)``. Wall time counts the time a
   query waited for a core another process held; CPU time does not, and a query cannot finish
   before its own work is done, so the smaller of the two is what the snapshot costs. On an idle
   machine the two agree. Both are reported;
4. judged by **ratio** when the published snapshot can be measured (same model, the same
   collections): the two are timed interleaved, query by query, alternating which goes first,
   and the candidate passes if its p50 and p95 are within ``latency_ratio_max`` times the
   published ones (plus ``RATIO_FLOOR_MS``, below which differences are timer noise). Otherwise
   (the first publish, a new model) by **absolute** budgets, ``latency_p50_ms``/``latency_p95_ms``.
   ``judged_by`` in the report says which.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eval.metrics import percentile
from eval.suite import SuiteQuery
from snapsearch.format.gates import GateResult
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import SearchRequest
from snapsearch.settings import GateSettings

RATIO_FLOOR_MS = 1.0  # the ratio is judged on (candidate - floor) vs ratio x published
Job = tuple[str | None, str]  # (collection, query text)


@dataclass(frozen=True)
class Timing:
    wall_ms: float
    cpu_ms: float

    @property
    def service_ms(self) -> float:
        return min(self.wall_ms, self.cpu_ms)


@dataclass(frozen=True)
class Figures:
    p50_ms: float  # service time
    p95_ms: float
    wall_p50_ms: float
    wall_p95_ms: float
    cpu_p50_ms: float

    @classmethod
    def of(cls, timings: Sequence[Timing]) -> Figures:
        service = [t.service_ms for t in timings]
        wall = [t.wall_ms for t in timings]
        return cls(
            percentile(service, 50), percentile(service, 95), percentile(wall, 50),
            percentile(wall, 95), percentile([t.cpu_ms for t in timings], 50),
        )

    def metrics(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": round(v, 2) for k, v in vars(self).items()}


def latency_jobs(
    engine: SearchEngine, suite: Sequence[SuiteQuery], count: int, collection: str | None
) -> list[Job]:
    """``count`` queries: the suite's distinct texts first (on ``collection``), then queries drawn
    from each collection's own records; repeated in turn when the snapshot has too few."""
    jobs: list[Job] = [(collection, t) for t in dict.fromkeys(q.query for q in suite)][:count]
    if len(jobs) < count:
        names = list(engine.snapshot.collections)
        per = -(-(count - len(jobs)) // max(len(names), 1))
        seen = {t for _, t in jobs}
        for name in names:
            queries = engine.kind(name).fallback_queries(engine.collection(name), per)
            jobs += [(name, q) for q in dict.fromkeys(queries) if q not in seen]
    if not jobs:
        return []
    return [jobs[i % len(jobs)] for i in range(count)]


def time_search(engine: SearchEngine, job: Job) -> Timing:
    collection, text = job
    req = SearchRequest(query=text[:512] or "?", mode="hybrid", limit=10, collection=collection)
    c0, w0 = time.process_time(), time.perf_counter()
    engine.search(req)
    w1, c1 = time.perf_counter(), time.process_time()
    return Timing((w1 - w0) * 1000, (c1 - c0) * 1000)


def measure(
    engine: SearchEngine, jobs: Sequence[Job], warmup: int,
    baseline: SearchEngine | None = None,
) -> tuple[list[Timing], list[Timing]]:
    """Warm up, then time every job; with a baseline, both interleaved (alternating order)."""
    for i in range(min(warmup, len(jobs)) if jobs else 0):
        for e in (engine, baseline) if baseline is not None else (engine,):
            e.search(SearchRequest(query=jobs[i][1][:512] or "?", mode="hybrid", limit=10,
                                   collection=jobs[i][0]))
    cand: list[Timing] = []
    base: list[Timing] = []
    for i, job in enumerate(jobs):
        if baseline is None:
            cand.append(time_search(engine, job))
        elif i % 2 == 0:
            cand.append(time_search(engine, job))
            base.append(time_search(baseline, job))
        else:
            base.append(time_search(baseline, job))
            cand.append(time_search(engine, job))
    return cand, base


def why_no_ratio(engine: SearchEngine, jobs: Sequence[Job], baseline: SearchEngine | None) -> str:
    """Why the published snapshot cannot be the yardstick ('' when it can)."""
    if baseline is None:
        return "no published snapshot to compare with (same model)"
    missing = sorted(
        {c or next(iter(engine.snapshot.collections)) for c, _ in jobs}
        - set(baseline.snapshot.collections)
    )
    if missing:
        return f"the published snapshot has no collection {', '.join(missing)}"
    return ""


def gate_latency(
    engine: SearchEngine, suite: Sequence[SuiteQuery], settings: GateSettings,
    collection: str | None = None, baseline: SearchEngine | None = None,
) -> GateResult:
    """Hybrid search service time of the candidate (engines without a query cache: every search
    encodes), judged by ratio against ``baseline`` (the published snapshot) when it can be, else
    by the absolute budgets. See the module's docstring."""
    jobs = latency_jobs(engine, suite, settings.latency_queries, collection)
    if not jobs:
        return GateResult(passed=False, description="no queries to measure: the snapshot is empty")
    no_ratio = why_no_ratio(engine, jobs, baseline)
    cand_t, base_t = measure(engine, jobs, settings.latency_warmup,
                             None if no_ratio else baseline)
    cand = Figures.of(cand_t)
    metrics: dict[str, object] = {
        **cand.metrics(), "queries": len(jobs), "warmup": min(settings.latency_warmup, len(jobs)),
        "budget_p50_ms": settings.latency_p50_ms, "budget_p95_ms": settings.latency_p95_ms,
        "load_1m": round(os.getloadavg()[0], 2),
    }
    figures = (f"hybrid search p50 {cand.p50_ms:.1f} ms, p95 {cand.p95_ms:.1f} ms service time "
               f"(wall {cand.wall_p50_ms:.1f} / {cand.wall_p95_ms:.1f} ms) over {len(jobs)} "
               f"uncached queries after {metrics['warmup']} warm-up")
    if no_ratio:
        ok = cand.p50_ms <= settings.latency_p50_ms and cand.p95_ms <= settings.latency_p95_ms
        metrics["judged_by"] = "absolute"
        desc = (f"{figures}; judged by the absolute budgets {settings.latency_p50_ms:g} / "
                f"{settings.latency_p95_ms:g} ms ({no_ratio})")
        return GateResult(passed=ok, description=desc, metrics=metrics)
    assert baseline is not None
    base = Figures.of(base_t)
    r50 = cand.p50_ms / base.p50_ms if base.p50_ms > 0 else 1.0
    r95 = cand.p95_ms / base.p95_ms if base.p95_ms > 0 else 1.0
    limit = settings.latency_ratio_max
    ok = (cand.p50_ms <= limit * base.p50_ms + RATIO_FLOOR_MS
          and cand.p95_ms <= limit * base.p95_ms + RATIO_FLOOR_MS)
    metrics |= {
        "judged_by": "ratio", "baseline_id": baseline.snapshot.snapshot_id,
        **base.metrics("baseline."), "ratio_p50": round(r50, 3), "ratio_p95": round(r95, 3),
        "ratio_max": limit,
    }
    desc = (f"{figures}; judged by ratio against the published "
            f"{baseline.snapshot.snapshot_id} measured interleaved (p50 {base.p50_ms:.1f} ms, "
            f"p95 {base.p95_ms:.1f} ms): x{r50:.2f} / x{r95:.2f} (max x{limit:g})")
    return GateResult(passed=ok, description=desc, metrics=metrics)
