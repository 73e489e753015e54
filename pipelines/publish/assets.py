"""The publish asset: flips `current` atomically once the blocking gates passed."""

from dataclasses import dataclass

from dagster import AssetExecutionContext, asset

from pipelines.progress import log
from pipelines.publish.actions import publish
from pipelines.resources import StoreResource
from pipelines.transform.assets import SnapshotRef


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
    if snapshot.unchanged:
        note = f"nothing published: inputs unchanged, current stays {snapshot.snapshot_id}"
        context.log.info(note)
        log.info(note)
        context.add_output_metadata(
            {"published": False, "current": snapshot.snapshot_id, "note": note}
        )
        return PublishOutcome(False, snapshot.snapshot_id, None, note)
    event = publish(s.root, snapshot.snapshot_id, retention=s.retention)
    note = f"published {event.to_id} (previous: {event.from_id or 'none'})"
    context.log.info(note)
    log.info(note)
    context.add_output_metadata(
        {"published": True, "current": event.to_id, "previous": event.from_id or "", "note": note}
    )
    return PublishOutcome(True, event.to_id, event.from_id, note)
