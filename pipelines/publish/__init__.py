"""Publish stage: publish and rollback (``actions``), the publish log (``events``), the store
lock, retention and status. The links themselves live in ``snapsearch.format.links``."""

from pipelines.publish.actions import publish, rollback
from pipelines.publish.events import PublishEvent, read_publish_log
from pipelines.publish.retention import apply_retention
from pipelines.publish.status import SnapshotInfo, StoreStatus, store_status
from snapsearch.format.links import current_id, previous_id

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
