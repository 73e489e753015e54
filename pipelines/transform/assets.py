"""The transform asset: raw version -> immutable snapshot directory (or 'unchanged')."""

import time
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetExecutionContext, MetadataValue, asset

from pipelines.feedback.priors import FeedbackVotes
from pipelines.fetch.raw import RawVersion
from pipelines.metadata import snapshot_figures, typed
from pipelines.progress import log, make_progress
from pipelines.publish.runlock import join_run
from pipelines.resources import StoreResource
from pipelines.transform.build import (
    CollectionSpec,
    build_options,
    build_snapshot,
    current_inputs_digest,
    inputs_digest,
)
from snapsearch.format import links


@dataclass(frozen=True)
class SnapshotRef:
    snapshot_id: str
    path: Path
    unchanged: bool  # inputs equal those of `current`: nothing was built
    records: int = 0
    rejects: int = 0
    reused: int = 0
    encoded: int = 0
    baseline: str | None = None  # `current` when the run built: gates compare, publish expects it


@asset(group_name="snapsearch", kinds={"sqlite", "numpy"},
       description="Immutable snapshot: SQLite tables + FTS5, vectors, hnsw index, manifest.")
def snapshot(
    context: AssetExecutionContext, raw_records: dict[str, RawVersion],
    feedback_log: FeedbackVotes, store: StoreResource,
) -> SnapshotRef:
    s = store.settings()
    join_run(s.root, context.run.run_id)
    enc = store.encoder()
    t0 = time.perf_counter()
    specs = [CollectionSpec(c.name, c.kind, raw_records[c.name]) for c in s.build_collections()]
    options = build_options(s)
    baseline = links.current_id(s.root)

    def emit(msg: str) -> None:
        context.log.info(msg)
        log.info(msg)

    digest = inputs_digest(specs, options, enc.pin.fingerprint, feedback_log)
    if not store.force and digest == current_inputs_digest(s.root):
        current = links.resolve_current(s.root)
        emit(f"transform: inputs unchanged since current snapshot {current.name}; nothing to build")
        context.add_output_metadata(
            {"unchanged": True, "snapshot_id": current.name, **typed(snapshot_figures(current))}
        )
        return SnapshotRef(current.name, current, unchanged=True, baseline=baseline)
    result = build_snapshot(
        s.root, specs, enc, options, log=emit, progress=make_progress("encode", emit),
        feedback=feedback_log,
    )
    t = result.timings
    emit(
        f"transform: built {result.snapshot_id}: {result.records} records, "
        f"{result.rejects} rejects, embeddings reused {result.reused} / encoded {result.encoded}"
    )
    context.add_output_metadata(
        {
            "snapshot_id": result.snapshot_id,
            "unchanged": False,
            "records": MetadataValue.int(result.records),
            "rejects": MetadataValue.int(result.rejects),
            "embeddings_reused": MetadataValue.int(result.reused),
            "embeddings_encoded": MetadataValue.int(result.encoded),
            "encode_seconds": MetadataValue.float(round(t["encode_s"], 3)),
            "index_seconds": MetadataValue.float(round(t["index_s"], 3)),
            "parse_seconds": MetadataValue.float(round(t["parse_s"], 3)),
            "build_seconds": MetadataValue.float(round(time.perf_counter() - t0, 3)),
            "snapshot_bytes": MetadataValue.int(
                sum(f.bytes for f in result.manifest.files.values())
            ),
            "model": result.manifest.model.model_id,
            "model_fingerprint": result.manifest.model.fingerprint,
        }
    )
    return SnapshotRef(
        result.snapshot_id, result.path, unchanged=False, records=result.records,
        rejects=result.rejects, reused=result.reused, encoded=result.encoded, baseline=baseline,
    )
