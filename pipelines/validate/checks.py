"""Blocking asset checks on the snapshot: a failed ERROR gate stops publish in the same run."""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetIn,
    MetadataValue,
    multi_asset_check,
)

from pipelines.progress import log
from pipelines.resources import StoreResource
from pipelines.transform.assets import SnapshotRef
from pipelines.validate.gates import GATE_NAMES, run_gates
from snapsearch.format import links
from snapsearch.format.gates import read_gate_report


def _metadata(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            out[k] = MetadataValue.bool(v)
        elif isinstance(v, int):
            out[k] = MetadataValue.int(v)
        elif isinstance(v, float):
            out[k] = MetadataValue.float(v)
        else:
            out[k] = MetadataValue.json(v) if isinstance(v, list | dict) else str(v)
    return out


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
    report = read_gate_report(snapshot.path) if snapshot.unchanged else None
    if report is None:
        report = run_gates(
            snapshot.path, store.encoder(), s.gates, suite_path=s.suite,
            baseline_dir=links.current_dir(s.root),
            collection=s.collections[0].name,
        )
    for name, result in report.gates.items():
        msg = f"gate {name}: {'passed' if result.passed else 'FAILED'} — {result.description}"
        context.log.info(msg)
        log.info(msg)
        yield AssetCheckResult(
            check_name=name,
            passed=result.passed,
            severity=(
                AssetCheckSeverity.ERROR if result.severity == "ERROR" else AssetCheckSeverity.WARN
            ),
            description=result.description,
            metadata=_metadata({"snapshot_id": snapshot.snapshot_id, **result.metrics}),
        )
