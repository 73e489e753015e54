"""Run the whole Dagster job in-process (what `snapsearch run` does), recorded in the store's
Dagster instance.

Every way a run can fail ends here as one exception with a one-line message, its chain cut:
our own errors (a bad source, failed gates, another run in progress) as they are, anything
else (sqlite OverflowError, RecursionError, disk full, a file removed under a build) as
``JobFailed`` naming the step and the error. Dagster re-raises a step's exception with a
context chain that loops back on itself; printing that chain never ends, so it is cut here.
The run itself is marked failed in the instance, with the full error there.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from dagster import AssetCheckEvaluation, DagsterEventType, DagsterInstance
from dagster._core.errors import DagsterAssetCheckFailedError, DagsterExecutionStepExecutionError

from pipelines.definitions import JOB_NAME, build_definitions
from pipelines.instance import store_instance
from pipelines.publish.runlock import leave_run, run_lock
from pipelines.resources import StoreResource
from pipelines.triggers import TRIGGER_TAG
from snapsearch.format.errors import GateError, SnapshotError
from snapsearch.settings import PipelineSettings, SettingsError, load_settings


class JobFailed(SnapshotError):
    """The job did not complete; nothing already published was touched."""


@dataclass(frozen=True)
class JobOutcome:
    published: bool
    current: str
    note: str
    gates: dict[str, Any]
    run_id: str = ""


def run_job(
    settings: PipelineSettings | None = None, *, force: bool = False, log_level: str = "CRITICAL",
    instance: DagsterInstance | None = None,
) -> JobOutcome:
    """Fetch, build, check and publish every collection of ``settings`` (default: the
    ``SNAPSEARCH_*`` environment); ``force`` builds even when the inputs are unchanged. The run
    is recorded in ``instance`` (default: the store's, ``pipelines.instance``)."""
    s = settings if settings is not None else load_settings(PipelineSettings)
    s.root.mkdir(parents=True, exist_ok=True)
    run_id = str(uuid.uuid4())  # a Dagster run id, known before the run starts (the lock's)
    with run_lock(s.root, run_id):  # another run in progress: refused here, no run recorded
        if instance is not None:
            return _execute(s, force, log_level, instance, run_id)
        with store_instance(s) as own:
            return _execute(s, force, log_level, own, run_id)


def _execute(
    s: PipelineSettings, force: bool, log_level: str, instance: DagsterInstance, run_id: str
) -> JobOutcome:
    job = build_definitions(StoreResource.of(s, force=force)).resolve_job_def(JOB_NAME)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    failure: BaseException | None = None  # raised below, outside the handlers: no chain
    try:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=True, run_id=run_id,
            tags={TRIGGER_TAG: "cli"},
        )
    except DagsterAssetCheckFailedError:
        failure = _gate_failure(instance, run_id)
    except (SnapshotError, SettingsError) as exc:
        failure = _cut(exc)
    except DagsterExecutionStepExecutionError as exc:  # raised as such by older Dagster
        failure = _failed(run_id, exc.step_key, exc.user_exception)
    except Exception as exc:  # noqa: BLE001 - anything else: one line, never a traceback loop
        failure = _failed(run_id, _step_of(exc), exc)
    finally:
        leave_run(s.root, run_id)
    if failure is not None:
        raise failure
    if not result.success:
        raise _gate_failure(instance, run_id)
    outcome = result.output_for_node("published")
    gates = {
        ev.check_name: {"passed": ev.passed, "description": ev.description}
        for ev in result.get_asset_check_evaluations()
    }
    return JobOutcome(outcome.published, outcome.current, outcome.note, gates, run_id)


def _cut(exc: BaseException) -> BaseException:
    """``exc`` with its chain cut (Dagster's loops) and no traceback to follow."""
    exc.__cause__ = exc.__context__ = None
    exc.__suppress_context__ = True
    return exc.with_traceback(None)


def _step_of(exc: BaseException) -> str | None:
    ctx = exc.__context__
    return ctx.step_key if isinstance(ctx, DagsterExecutionStepExecutionError) else None


def _failed(run_id: str, step: str | None, error: BaseException | None) -> JobFailed:
    what = f"{type(error).__name__}: {_one_line(error)}" if error is not None else "unknown error"
    where = f" in step {step}" if step else ""
    return JobFailed(
        f"run {run_id}{where} failed: {what}; nothing was published, `current` is unchanged",
        fix="the run's log in `dagster dev` has the traceback",
    )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _gate_failure(instance: DagsterInstance, run_id: str) -> GateError:
    """A blocking check failed: which checks, with their figures against their thresholds."""
    failed = []
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records:
        ev = record.event_log_entry.dagster_event
        data = ev.event_specific_data if ev is not None else None
        if isinstance(data, AssetCheckEvaluation) and not data.passed:
            failed.append(f"{data.check_name}: {data.description}")
    what = "; ".join(failed) or "a blocking check failed"
    return GateError(
        f"run {run_id}: gates failed ({what}); nothing was published, `current` is unchanged",
        fix="each check's metadata in `dagster dev` names the offending queries or files; "
            "the gate report is <root>/_gates/<snapshot id>.json",
    )


logging.getLogger("alembic").setLevel(logging.WARNING)  # the instance's schema migrations
