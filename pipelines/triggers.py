"""What starts a run besides `snapsearch run`: the daily schedule and the source sensor.

Both skip while a run is in progress (the run lock) rather than start a run that would fail.
The schedule asks for a run every night (it also catches model and settings changes; a run
whose inputs are unchanged builds and publishes nothing). The sensor probes each collection's
source (``pipelines.fetch.probe``: file digest, or HTTP validators, never a download) and asks
for a run when one changed since the version last fetched; its cursor keeps the fingerprints
it saw (and file stats, so unchanged files are not re-hashed), and its run key is those
fingerprints, so one change starts one run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    schedule,
    sensor,
)

from pipelines.fetch.probe import probe_source, recorded
from pipelines.publish.runlock import run_in_progress
from pipelines.resources import StoreResource
from snapsearch.format.errors import SourceError
from snapsearch.format.hashing import sha256_text
from snapsearch.settings import PipelineSettings

JOB_NAME = "snapsearch_job"
SENSOR_INTERVAL_S = 120
TRIGGER_TAG = "snapsearch/trigger"


@dataclass(frozen=True)
class SourceCheck:
    changed: list[str]  # collections whose source changed since the version last fetched
    unknown: list[str]  # collections whose source cannot say without a download (or failed)
    fingerprints: dict[str, str | None]
    cursor: dict[str, Any]


def check_sources(
    settings: PipelineSettings, cursor: dict[str, Any],
    transport: httpx.BaseTransport | None = None,
) -> SourceCheck:
    """Probe every collection's source against the cursor (or, for a collection it has not
    seen, against the version last fetched)."""
    changed, unknown = [], []
    fingerprints: dict[str, str | None] = {}
    new_cursor: dict[str, Any] = {}
    for c in settings.build_collections():
        seen = cursor.get(c.name) or {}
        if seen.get("source") != c.source:
            seen = {}
        before = seen.get("fingerprint") if seen else recorded(settings.root, c.source)
        try:
            probe = probe_source(c.source, memo=seen.get("memo"), previous=before,
                                 timeout_s=settings.fetch_timeout_s, transport=transport)
        except SourceError as exc:
            unknown.append(f"{c.name} ({exc.message})")
            new_cursor[c.name] = seen
            continue
        fingerprints[c.name] = probe.fingerprint
        new_cursor[c.name] = {"source": c.source, "fingerprint": probe.fingerprint,
                              "memo": probe.memo}
        if probe.fingerprint is None:
            unknown.append(f"{c.name} (sends no ETag or Last-Modified)")
        elif probe.fingerprint != before:
            changed.append(c.name)
    return SourceCheck(changed, unknown, fingerprints, new_cursor)


@sensor(job_name=JOB_NAME, minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts a run when a collection's source changed (file digest or HTTP "
                    "ETag/Last-Modified; never a download to compare).")
def source_changed(
    context: SensorEvaluationContext, store: StoreResource
) -> RunRequest | SkipReason:
    s = store.settings()
    if run_in_progress(s.root):
        return SkipReason("a run is in progress (the store's run lock is held)")
    check = check_sources(s, json.loads(context.cursor) if context.cursor else {})
    context.update_cursor(json.dumps(check.cursor, sort_keys=True))
    unknown = f"; cannot tell: {', '.join(check.unknown)}" if check.unknown else ""
    if not check.changed:
        return SkipReason(f"no source changed{unknown}")
    key = sha256_text(json.dumps(check.fingerprints, sort_keys=True))[:16]
    return RunRequest(
        run_key=f"sources-{key}",
        tags={TRIGGER_TAG: "sensor", "snapsearch/changed": ",".join(check.changed)},
    )


@schedule(job_name=JOB_NAME, name="snapsearch_nightly", cron_schedule="0 2 * * *",
          execution_timezone="UTC", default_status=DefaultScheduleStatus.STOPPED,
          description="Nightly run; unchanged inputs build and publish nothing.")
def nightly(context: ScheduleEvaluationContext, store: StoreResource) -> RunRequest | SkipReason:
    if run_in_progress(store.settings().root):
        return SkipReason("a run is in progress (the store's run lock is held)")
    return RunRequest(tags={TRIGGER_TAG: "schedule"})
