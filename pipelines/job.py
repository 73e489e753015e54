"""Run the whole Dagster job in-process (what `snapsearch run` does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterExecutionStepExecutionError, DagsterInstance
from dagster._core.errors import DagsterAssetCheckFailedError

from pipelines.definitions import JOB_NAME, build_definitions
from pipelines.resources import EncoderResource, StoreResource
from snapsearch.format.errors import GateError, SnapshotError


class JobFailed(SnapshotError):
    """The job did not complete; nothing already published was touched."""


@dataclass(frozen=True)
class JobOutcome:
    published: bool
    current: str
    note: str
    gates: dict[str, Any]


def run_job(
    *,
    root: Path | None = None,
    source: str | None = None,
    suite: str | None = None,
    force: bool = False,
    encoder_backend: str = "minilm",
    log_level: str = "WARNING",
) -> JobOutcome:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the ephemeral instance's migrations
    store = StoreResource(
        root=str(root) if root else "", source=source or "", suite=suite or "", force=force
    )
    defs = build_definitions(store, EncoderResource(backend=encoder_backend))
    job = defs.resolve_job_def(JOB_NAME)
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
                    fix="see the gate report (gates.json) in the new snapshot directory",
                )
            outcome = result.output_for_node("published")
    except DagsterAssetCheckFailedError:
        raise _gate_failure(store.settings().root) from None
    except DagsterExecutionStepExecutionError as exc:
        user = exc.user_exception
        if isinstance(user, SnapshotError):
            raise user from None
        raise JobFailed(f"step failed: {user!r}", fix="see the log above") from exc
    return JobOutcome(outcome.published, outcome.current, outcome.note, gates)


def _gate_failure(root: Path) -> GateError:
    """A blocking check failed: name the snapshot and its failed gates from its gate report."""
    from snapsearch.format import layout
    from snapsearch.format.gates import read_gate_report

    dirs = layout.list_snapshot_dirs(root)
    report = read_gate_report(dirs[-1]) if dirs else None
    if report is None:
        return GateError("a blocking gate failed; nothing was published, `current` is unchanged")
    failed = "; ".join(f"{n}: {g.description}" for n, g in report.gates.items() if not g.passed)
    return GateError(
        f"snapshot {report.snapshot_id} failed its gates ({failed}); nothing was published, "
        "`current` is unchanged",
        fix=f"see {dirs[-1] / layout.GATES}",
    )
