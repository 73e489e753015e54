"""`snapsearch run` never hangs (issue 11 finding 1): any failure, ours or not, ends the command
within seconds with one line, exit code 1 and a failed Dagster run, and leaves `current` as it
was. Before the fix, an exception outside our error types came back from Dagster with a context
chain that loops, and printing its traceback never ended (100 % CPU, GBs of memory): the real
cases run the real command in a subprocess under a timeout; the injected ones run in-process."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from typer.testing import CliRunner

from pipelines.job import JobFailed, run_job
from snapsearch.cli import EXIT_FAILED, app
from snapsearch.format import faults, layout
from snapsearch.format.verify import verify_snapshot
from snapsearch.settings import PipelineSettings
from tests.conftest import sample_records, write_jsonl

SECONDS = 90  # a generous bound on a loaded 2-core machine; the hang never ended


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("failures")
    source = write_jsonl(d / "parts.jsonl", sample_records(100))
    result = CliRunner().invoke(
        app, ["run", "--root", str(d / "snapshots"), "--source", str(source), "--suite", "none"],
        env={"SNAPSEARCH_ENCODER": "hashing"},
    )
    assert result.exit_code == 0, result.output
    return d / "snapshots", source


def _stock_10_30(directory: Path) -> Path:
    rows = sample_records(100)
    rows[5]["stock"] = 10**30
    return write_jsonl(directory / "stock.jsonl", rows)


def _nested_5000(directory: Path) -> Path:
    lines = [json.dumps(r) for r in sample_records(100)]
    nested = "1"
    for _ in range(5000):
        nested = '{"a":' + nested + "}"
    lines[5] = lines[5][:-1] + ', "extra": ' + nested + "}"
    path = directory / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("make_source", [_stock_10_30, _nested_5000])
def test_the_real_command_ends_within_seconds(
    store: tuple[Path, Path], tmp_path: Path, make_source: Callable[[Path], Path]
) -> None:
    root, _ = store
    before = (root / layout.CURRENT).resolve().name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNAPSEARCH_", "DAGSTER_"))}
    env.update(SNAPSEARCH_ENCODER="hashing", HF_HUB_OFFLINE="1")
    args = [sys.executable, "-m", "snapsearch.cli", "run", "--root", str(root), "--source",
            str(make_source(tmp_path)), "--suite", "none"]
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=SECONDS)
    assert time.monotonic() - t0 < SECONDS
    if proc.returncode == 0:  # a parser that rejects the record instead is fine too
        assert "current:" in proc.stdout
        return
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == EXIT_FAILED
    assert last.startswith("error: run ") and "nothing was published" in last, last
    assert "Traceback" not in proc.stderr
    assert (root / layout.CURRENT).resolve().name == before
    verify_snapshot(root / layout.CURRENT)


def _raise(error: BaseException) -> Callable[[Path], None]:
    def fire(_root: Path) -> None:
        raise error

    return fire


def _remove_build(root: Path) -> None:
    for build in root.glob(f"{layout.TMP_PREFIX}2*"):
        shutil.rmtree(build)


INJECTED = {
    # name: (crash point, what happens there, words the one line names)
    "sqlite OverflowError": ("build.written", _raise(OverflowError("too large")), "OverflowError"),
    "RecursionError": ("build.encoded", _raise(RecursionError("too deep")), "RecursionError"),
    "disk full": ("build.written", _raise(sqlite3.OperationalError("database or disk is full")),
                  "database or disk is full"),
    "snapshot removed under the build": ("build.written", _remove_build, "FileNotFoundError"),
    "failure while validating": ("gates.judged", _raise(MemoryError()), "MemoryError"),
    "failure while publishing": ("publish.locked", _raise(OverflowError("x")), "OverflowError"),
}


@pytest.fixture
def armed(store: tuple[Path, Path]) -> Iterator[Callable[[str], None]]:
    root, _ = store

    def arm(case: str) -> None:
        point, fire, _ = INJECTED[case]
        faults.install(lambda name: fire(root) if name == point else None)

    yield arm
    faults.install(None)


@pytest.mark.parametrize("case", list(INJECTED))
def test_any_failure_is_one_line_and_exit_1(
    store: tuple[Path, Path], armed: Callable[[str], None], case: str
) -> None:
    root, source = store
    before = (root / layout.CURRENT).resolve().name
    armed(case)
    result = CliRunner().invoke(
        app, ["run", "--root", str(root), "--source", str(source), "--suite", "none", "--force"],
        env={"SNAPSEARCH_ENCODER": "hashing"},
    )
    assert result.exit_code == EXIT_FAILED, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: run ") and INJECTED[case][2] in lines[-1], lines[-1]
    assert (root / layout.CURRENT).resolve().name == before
    verify_snapshot(root / layout.CURRENT)


def test_the_dagster_run_is_marked_failed_with_the_error(
    store: tuple[Path, Path], armed: Callable[[str], None]
) -> None:
    root, source = store
    armed("disk full")
    settings = PipelineSettings(root=root, source=str(source), suite="none", encoder="hashing")
    with DagsterInstance.ephemeral() as instance:
        with pytest.raises(JobFailed, match="in step snapshot failed: OperationalError") as err:
            run_job(settings, force=True, instance=instance)
        assert err.value.__cause__ is None and err.value.__context__ is None
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.FAILURE and run.run_id in str(err.value)
