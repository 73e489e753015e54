"""Dagster metadata: every figure as a typed number, so the UI plots it across runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import MetadataValue

from pipelines.publish.events import PublishEvent
from snapsearch.format.errors import SnapshotError
from snapsearch.format.gates import GateReport
from snapsearch.format.manifest import read_manifest

# (metadata key, gate, metric key): the gate figures the published asset carries for plotting
GATE_FIGURES = (
    ("ann_recall", "ann_recall", "recall@10"),
    ("hit@1", "quality", "hit@1"),
    ("hit@10", "quality", "hit@10"),
    ("mrr@10", "quality", "mrr@10"),
    ("ndcg@10", "quality", "ndcg@10"),
    ("compliance", "quality", "compliance"),
    ("p50_ms", "latency", "p50_ms"),
    ("p95_ms", "latency", "p95_ms"),
)


def typed(values: dict[str, Any]) -> dict[str, Any]:
    """Numbers as int/float metadata (plotted), bools as bools, lists and dicts as JSON, the
    rest as text."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[k] = MetadataValue.bool(v)
        elif isinstance(v, int):
            out[k] = MetadataValue.int(v)
        elif isinstance(v, float):
            out[k] = MetadataValue.float(v)
        elif isinstance(v, list | dict):
            out[k] = MetadataValue.json(v)
        elif v is None:
            out[k] = MetadataValue.text("")
        else:
            out[k] = MetadataValue.text(str(v))
    return out


def snapshot_figures(path: Path) -> dict[str, int]:
    """Records, rejects and bytes of a built snapshot, from its manifest ({} if unreadable)."""
    try:
        m = read_manifest(path)
    except SnapshotError:
        return {}
    return {
        "records": sum(c.records for c in m.collections.values()),
        "rejects": sum(c.rejects for c in m.collections.values()),
        "snapshot_bytes": sum(f.bytes for f in m.files.values()),
    }


def gate_figures(report: GateReport | None) -> dict[str, float]:
    """The plotted gate figures of a report (those its gates measured)."""
    out: dict[str, float] = {}
    for key, gate, metric in GATE_FIGURES:
        result = report.gates.get(gate) if report is not None else None
        value = result.metrics.get(metric) if result is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def published_metadata(event: PublishEvent) -> dict[str, MetadataValue]:
    """What the ``published`` asset records about a move of ``current``."""
    return {
        "action": MetadataValue.text(event.action),
        "snapshot_id": MetadataValue.text(event.to_id),
        "previous_id": MetadataValue.text(event.from_id or ""),
        "flipped_at": MetadataValue.text(event.at),
        "note": MetadataValue.text(event.note),
    }
