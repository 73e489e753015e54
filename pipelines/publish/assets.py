"""The publish asset: flips `current` atomically once the blocking gates passed.

Its materializations record what is live: the snapshot id, the previous one, the flip time and
the gate figures (plotted); ``snapsearch rollback`` records its moves the same way
(``pipelines.instance``), so the asset's history ends at what `current` points at.
"""

from dataclasses import dataclass

from dagster import AssetExecutionContext, asset

from pipelines.metadata import gate_figures, published_metadata, snapshot_figures, typed
from pipelines.progress import log
from pipelines.publish.actions import publish
from pipelines.publish.runlock import join_run, leave_run
from pipelines.resources import StoreResource
from pipelines.transform.assets import SnapshotRef
from snapsearch.format.gates import read_gate_report


@dataclass(frozen=True)
class PublishOutcome:
    published: bool
    current: str
    previous: str | None
    note: str


@asset(group_name="snapsearch", kinds={"python"},
       description="The `current` link: atomically flipped to the validated snapshot.")
def published(
    context: AssetExecutionContext, snapshot: SnapshotRef, store: StoreResource
) -> PublishOutcome:
    s = store.settings()
    join_run(s.root, context.run.run_id)
    figures = {**snapshot_figures(snapshot.path), **gate_figures(read_gate_report(snapshot.path))}
    if snapshot.unchanged:
        note = f"nothing published: inputs unchanged, current stays {snapshot.snapshot_id}"
        context.log.info(note)
        log.info(note)
        context.add_output_metadata(
            {"published": False, "snapshot_id": snapshot.snapshot_id, "note": note,
             **typed(figures)}
        )
        leave_run(s.root, context.run.run_id)
        return PublishOutcome(False, snapshot.snapshot_id, None, note)
    event = publish(
        s.root, snapshot.snapshot_id, retention=s.retention, expect_current=snapshot.baseline
    )
    note = f"published {event.to_id} (previous: {event.from_id or 'none'})"
    context.log.info(note)
    log.info(note)
    context.add_output_metadata(
        {"published": True, **published_metadata(event), **typed(figures)}
    )
    leave_run(s.root, context.run.run_id)
    return PublishOutcome(True, event.to_id, event.from_id, note)

