"""The Dagster code location: assets, blocking checks, the job and its daily schedule.

``dagster dev`` (see pyproject's [tool.dagster]) shows the graph fetch (+ the feedback log) →
snapshot (+ gates) → published. ``snapsearch run`` executes the same job in-process.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, ScheduleDefinition, define_asset_job

from pipelines.feedback.assets import feedback_log
from pipelines.fetch.assets import raw_records
from pipelines.publish.assets import published
from pipelines.resources import StoreResource
from pipelines.transform.assets import snapshot
from pipelines.validate.checks import snapshot_gates

JOB_NAME = "snapsearch_job"

snapsearch_job = define_asset_job(
    JOB_NAME,
    selection=AssetSelection.all(),
    description="fetch → transform → validate (blocking gates) → publish",
)

nightly = ScheduleDefinition(
    name="snapsearch_nightly", job=snapsearch_job, cron_schedule="0 2 * * *",
    execution_timezone="UTC",
)


def build_definitions(store: StoreResource | None = None) -> Definitions:
    """``store``: the settings to build with (default: the ``SNAPSEARCH_*`` environment)."""
    return Definitions(
        assets=[raw_records, feedback_log, snapshot, published],
        asset_checks=[snapshot_gates],
        jobs=[snapsearch_job],
        schedules=[nightly],
        resources={"store": store or StoreResource()},
    )


defs = build_definitions()
