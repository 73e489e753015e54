"""The Dagster code location: assets, blocking checks, the job, its daily schedule and the
source sensor.

``dagster dev`` (see pyproject's [tool.dagster]; README "Operations" for its DAGSTER_HOME)
shows the graph fetch (+ the feedback log) → snapshot (+ gates) → published. ``snapsearch run``
executes the same job in-process on the same instance. Every step runs in the run's one process
(``in_process_executor``): the run holds the store's run lock from fetch to publish.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from pipelines.feedback.assets import feedback_log
from pipelines.fetch.assets import raw_records
from pipelines.publish.assets import published
from pipelines.resources import StoreResource
from pipelines.transform.assets import snapshot
from pipelines.triggers import JOB_NAME, nightly, source_changed
from pipelines.validate.checks import snapshot_gates

__all__ = ["JOB_NAME", "build_definitions", "defs", "snapsearch_job"]

snapsearch_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="fetch → transform → validate (blocking gates) → publish",
)


def build_definitions(store: StoreResource | None = None) -> Definitions:
    """``store``: the settings to build with (default: the ``SNAPSEARCH_*`` environment)."""
    return Definitions(
        assets=[raw_records, feedback_log, snapshot, published],
        asset_checks=[snapshot_gates],
        jobs=[snapsearch_job],
        schedules=[nightly],
        sensors=[source_changed],
        resources={"store": store or StoreResource()},
        executor=in_process_executor,
    )


defs = build_definitions()
