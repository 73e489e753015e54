"""Publish stage: atomic flip of `current`/`previous`, publish log, rollback, retention."""

from pipelines.publish.store import (
    PublishEvent,
    SnapshotInfo,
    StoreStatus,
    apply_retention,
    current_id,
    previous_id,
    publish,
    read_publish_log,
    rollback,
    store_status,
)

__all__ = [
    "PublishEvent",
    "SnapshotInfo",
    "StoreStatus",
    "apply_retention",
    "current_id",
    "previous_id",
    "publish",
    "read_publish_log",
    "rollback",
    "store_status",
]
