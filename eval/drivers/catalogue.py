"""Catalogue query suites: hit@k / MRR / nDCG on expected ids, and constraint compliance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.compliance import compliance, count_satisfying, filters_satisfied
from eval.drivers.build import build_eval_snapshot, served_encoder
from eval.harness import MODES, QueryRun, run_query, score_runs
from eval.suite import SuiteQuery, load_suite
from snapsearch.format import layout
from snapsearch.format.manifest import FusionSettings
from snapsearch.format.model import Encoder
from snapsearch.format.reader import Snapshot, open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import PipelineSettings


def open_source_or_snapshot(
    path: Path, root: Path, encoder: Encoder, settings: PipelineSettings | None = None,
    log=print,  # type: ignore[no-untyped-def]
) -> Snapshot:
    """A built snapshot directory as it is, or a parts source built through the pipeline code."""
    if path.is_dir() and (path / layout.MANIFEST).is_file():
        return open_snapshot(path)
    return open_snapshot(
        build_eval_snapshot(path, root, "parts", "parts", encoder, settings, log=log)
    )


def _figures(
    runs: Sequence[QueryRun], suite: Sequence[SuiteQuery], details: dict[str, dict[str, Any]],
    satisfiable: dict[str, int],
) -> dict[str, Any]:
    gains = {q.id: {e: 1.0 for e in q.expected} for q in suite if q.expected}
    out: dict[str, Any] = dict(score_runs(runs, gains))
    comp, text_comp, filter_comp = [], [], []
    for q, r in zip(suite, runs, strict=True):
        top = [details[i] for i in r.ids[:10] if i in details]
        if q.constraints and satisfiable.get(q.id, 0) > 0:
            c = compliance(top, q.constraints, satisfiable[q.id])
            if c is not None:
                comp.append(c)
                if not q.filters:
                    text_comp.append(c)  # asked for in the words alone
        if q.filters and top:
            filter_comp.append(sum(filters_satisfied(d, q.filters) for d in top) / len(top))
    for key, xs in (("compliance", comp), ("text_compliance", text_comp),
                    ("filter_compliance", filter_comp)):
        if xs:
            out[key] = sum(xs) / len(xs)
            out[f"{key}_queries"] = len(xs)
    return out


def evaluate_suite(
    snap: Snapshot, suite_path: Path, encoder: Encoder, fusion: FusionSettings | None = None
) -> dict[str, Any]:
    """Every suite query in every mode; ``fusion`` overrides the manifest's (measurement only)."""
    suite = load_suite(suite_path)
    col = snap.collection(None)
    details = {str(d.get("lcsc", d.get("id"))): d for d in col.iter_details()}
    satisfiable = {
        q.id: count_satisfying(details.values(), q.constraints) for q in suite if q.constraints
    }
    result: dict[str, Any] = {}
    for mode in MODES:
        engine = SearchEngine(snap, served_encoder(snap), fusion=fusion)
        runs = [run_query(engine, q.id, q.query, mode, k=100, filters=q.filters) for q in suite]
        fig = _figures(runs, suite, details, satisfiable)
        by_kind: dict[str, Any] = {}
        for kind in sorted({q.kind or "unlabelled" for q in suite}):
            idx = [i for i, q in enumerate(suite) if (q.kind or "unlabelled") == kind]
            by_kind[kind] = _figures(
                [runs[i] for i in idx], [suite[i] for i in idx], details, satisfiable
            )
        fig["by_kind"] = by_kind
        fig["zero_result_queries"] = [
            q.query for q, r in zip(suite, runs, strict=True) if not r.ids
        ]
        fig["unsatisfiable_queries"] = [
            q.query for q in suite if q.constraints and satisfiable[q.id] == 0
        ]
        result[mode] = fig
    return result
