"""Publish stage: publish and rollback (``actions``), the publish log (``events``), the store
lock and the run lock, repair of a killed move, leftovers, retention and status. The links
themselves live in ``snapsearch.format.links``."""

from pipelines.publish.actions import ANY, publish, rollback
from pipelines.publish.events import PublishEvent, read_publish_log
from pipelines.publish.leftovers import clean_leftovers, find_leftovers
from pipelines.publish.repair import repair_links
from pipelines.publish.retention import apply_retention
from pipelines.publish.runlock import run_in_progress, run_lock
from pipelines.publish.status import SnapshotInfo, StoreStatus, store_status
from snapsearch.format.links import current_id, previous_id

__all__ = [
    "ANY",
    "PublishEvent",
    "SnapshotInfo",
    "StoreStatus",
    "apply_retention",
    "clean_leftovers",
    "current_id",
    "find_leftovers",
    "previous_id",
    "publish",
    "read_publish_log",
    "repair_links",
    "rollback",
    "run_in_progress",
    "run_lock",
    "store_status",
]
