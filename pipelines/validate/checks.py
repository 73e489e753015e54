"""Blocking asset checks on the snapshot: a failed ERROR gate stops publish in the same run.

Each check's metadata carries its figures as numbers (plotted by the UI), its thresholds, and
when it failed, ``failed_because`` (the figure against the threshold) and the first offending
queries or files the gate named.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetIn,
    MetadataValue,
    multi_asset_check,
)

from pipelines.metadata import typed
from pipelines.progress import log
from pipelines.publish.runlock import join_run
from pipelines.resources import StoreResource
from pipelines.transform.assets import SnapshotRef
from pipelines.validate.gates import GATE_NAMES, run_gates
from snapsearch.format.gates import read_gate_report


@multi_asset_check(
    specs=[AssetCheckSpec(name, asset="snapshot", blocking=True) for name in GATE_NAMES],
    ins={"snapshot": AssetIn("snapshot")},
    description="Integrity, model compatibility, query encoder, ANN recall, retrieval quality and "
    "latency gates.",
)
def snapshot_gates(
    context: AssetCheckExecutionContext, snapshot: SnapshotRef, store: StoreResource,
) -> Iterator[AssetCheckResult]:
    s = store.settings()
    join_run(s.root, context.run.run_id)
    report = read_gate_report(snapshot.path) if snapshot.unchanged else None
    if report is None:
        baseline = s.root / snapshot.baseline if snapshot.baseline else None
        report = run_gates(
            snapshot.path, store.encoder(), s.gates, suite_path=s.suite,
            baseline_dir=baseline, collection=s.collections[0].name,
        )
    for name, result in report.gates.items():
        msg = f"gate {name}: {'passed' if result.passed else 'FAILED'} — {result.description}"
        (context.log.info if result.passed else context.log.error)(msg)
        (log.info if result.passed else log.error)(msg)
        extra = {} if result.passed else {"failed_because": MetadataValue.text(result.description)}
        yield AssetCheckResult(
            check_name=name,
            passed=result.passed,
            severity=(
                AssetCheckSeverity.ERROR if result.severity == "ERROR" else AssetCheckSeverity.WARN
            ),
            description=result.description,
            metadata={**typed({"snapshot_id": snapshot.snapshot_id, **result.metrics}), **extra},
        )
