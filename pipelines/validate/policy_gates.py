"""Gates for what the build added besides records: its exclusion counts (reported, never
silent) and its feedback priors (they must not lower the quality suite's figures)."""

from __future__ import annotations

from collections.abc import Mapping

from snapsearch.format.gates import GateResult
from snapsearch.format.reader import Snapshot

PRIOR_FIGURES = ("hit@1", "hit@10", "mrr@10", "ndcg@10")
FIGURE_SLACK = 1e-9


def gate_exclusions(snapshot: Snapshot) -> GateResult:
    """The records each build exclusion rule kept out of the index, per collection."""
    info = snapshot.manifest.exclusions
    if info is None:
        return GateResult(passed=True, description="no exclusion rules configured",
                          metrics={"excluded": 0, "rules": 0})
    metrics: dict[str, object] = {"rules": len(info.rules)}
    total = 0
    for collection, by_rule in sorted(info.excluded.items()):
        for rule, n in sorted(by_rule.items()):
            metrics[f"excluded.{collection}.{rule}"] = n
            total += n
    metrics["excluded"] = total
    detail = "; ".join(
        f"{c}: " + ", ".join(f"{r} {n}" for r, n in sorted(by.items()))
        for c, by in sorted(info.excluded.items())
    )
    return GateResult(
        passed=True,
        description=f"{total} records excluded by {len(info.rules)} rules, not indexed ({detail})",
        metrics=metrics,
    )


def prior_problems(
    with_priors: Mapping[str, float], without: Mapping[str, float]
) -> tuple[list[str], dict[str, object]]:
    """Where the suite's figures with the snapshot's feedback priors fall below the same suite
    without them (problems), and both sets of figures (metrics)."""
    problems = []
    metrics: dict[str, object] = {}
    for key in PRIOR_FIGURES:
        a, b = with_priors.get(key, 0.0), without.get(key, 0.0)
        metrics[f"without_priors.{key}"] = round(b, 4)
        if a < b - FIGURE_SLACK:
            problems.append(f"feedback priors lower {key} ({b:.3f} without, {a:.3f} with)")
    return problems, metrics
