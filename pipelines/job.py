"""Run the whole Dagster job in-process (what `snapsearch run` does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterExecutionStepExecutionError, DagsterInstance
from dagster._core.errors import DagsterAssetCheckFailedError

from pipelines.definitions import JOB_NAME, build_definitions
from pipelines.resources import StoreResource
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


def run_job(
    settings: PipelineSettings | None = None, *, force: bool = False, log_level: str = "WARNING"
) -> JobOutcome:
    """Fetch, build, check and publish every collection of ``settings`` (default: the
    ``SNAPSEARCH_*`` environment); ``force`` builds even when the inputs are unchanged."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the ephemeral instance's migrations
    s = settings if settings is not None else load_settings(PipelineSettings)
    store = StoreResource.of(s, force=force)
    job = build_definitions(store).resolve_job_def(JOB_NAME)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    try:
        with DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance, run_config=run_config, raise_on_error=True
            )
            gates = {}
            for ev in result.get_asset_check_evaluations():
                gates[ev.check_name] = {"passed": ev.passed, "description": ev.description}
            failed = [n for n, g in gates.items() if not g["passed"]]
            if failed or not result.success:
                raise GateError(
                    "gates failed ("
                    + "; ".join(f"{n}: {gates[n]['description']}" for n in failed)
                    + "); nothing was published, `current` is unchanged",
                    fix="see the new snapshot's gate report (<root>/_gates/<snapshot id>.json)",
                )
            outcome = result.output_for_node("published")
    except DagsterAssetCheckFailedError:
        raise _gate_failure(s.root) from None
    except DagsterExecutionStepExecutionError as exc:
        user = exc.user_exception
        if isinstance(user, SnapshotError | SettingsError):
            raise user from None
        raise JobFailed(f"step failed: {user!r}", fix="see the log above") from exc
    return JobOutcome(outcome.published, outcome.current, outcome.note, gates)


def _gate_failure(root: Path) -> GateError:
    """A blocking check failed: name the snapshot and its failed gates from its gate report."""
    from snapsearch.format import layout
    from snapsearch.format.gates import gate_report_path, read_gate_report

    dirs = layout.list_snapshot_dirs(root)
    report = read_gate_report(dirs[-1]) if dirs else None
    if report is None:
        return GateError("a blocking gate failed; nothing was published, `current` is unchanged")
    failed = "; ".join(f"{n}: {g.description}" for n, g in report.gates.items() if not g.passed)
    return GateError(
        f"snapshot {report.snapshot_id} failed its gates ({failed}); nothing was published, "
        "`current` is unchanged",
        fix=f"see {gate_report_path(dirs[-1])}",
    )
