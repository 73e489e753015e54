"""Crash drill, in-process (issue 11 "Drills"): a process dies (``os._exit``, as under
``kill -9``: no cleanup) at every crash point of fetch, build, gates, publish, retention and
rollback. Afterwards `current` and `previous` verify (checksums, manifest, passed gates), and
the next run succeeds, repairs the links and removes every leftover. The same sweep against the
real `snapsearch run` process with ``kill -9`` is bench/crash_drill.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.fetch import fetch_source
from pipelines.job import run_job
from pipelines.publish import find_leftovers, publish, rollback
from pipelines.publish.begin import begin_run
from pipelines.publish.eligibility import passed_report
from pipelines.publish.runlock import leave_run
from pipelines.transform.build import CollectionSpec, build_options, build_snapshot
from pipelines.transform.encoder import settings_encoder
from pipelines.validate.gates import run_gates
from snapsearch.format import layout, links
from snapsearch.format.verify import verify_snapshot
from snapsearch.settings import GateSettings, PipelineSettings
from tests.conftest import sample_records, write_jsonl
from tests.drills.forked import CRASHED, crash_at

RUN_POINTS = [
    "fetch.written", "build.started", "build.encoded", "build.written", "build.sealed",
    "gates.judged", "gates.reported", "publish.locked", "links.previous_flipped",
    "links.current_flipped", "publish.logged", "retention.renamed", "retention.removed",
]
ROLLBACK_POINTS = [
    "rollback.locked", "links.previous_flipped", "links.current_flipped", "rollback.logged",
]


def settings_for(root: Path, source: Path) -> PipelineSettings:
    """Crash safety is under test, not speed: a loaded machine's latency never fails a run."""
    return PipelineSettings(
        root=root, source=str(source), suite="none", encoder="hashing", retention=1,
        gates=GateSettings(latency_p50_ms=60_000, latency_p95_ms=60_000),
    )


def plain_run(s: PipelineSettings, run_id: str = "drill") -> None:
    """The job's steps as the assets call them, without Dagster (fast): begin, fetch, build,
    gates, publish against the baseline."""
    begin_run(s.root, run_id)
    try:
        encoder = settings_encoder(s)
        raw = fetch_source(str(s.source), s.root)
        baseline = links.current_id(s.root)
        built = build_snapshot(s.root, [CollectionSpec("parts", "parts", raw)], encoder,
                               build_options(s))
        report = run_gates(built.path, encoder, s.gates, suite_path=None,
                           baseline_dir=s.root / baseline if baseline else None)
        assert report.passed, report.to_json()
        publish(s.root, built.snapshot_id, retention=s.retention, expect_current=baseline)
    finally:
        leave_run(s.root, run_id)


def assert_sound(root: Path) -> None:
    """`current` (and `previous`, if any) verify in full and passed their gates."""
    current, previous = links.current_id(root), links.previous_id(root)
    assert current is not None
    for sid in {current, previous} - {None}:
        assert sid is not None
        verify_snapshot(root / sid, checksums=True)
        assert passed_report(root, sid).passed


def assert_clean(root: Path) -> None:
    assert find_leftovers(root) == []
    assert not list(root.rglob(f"{layout.TMP_PREFIX}*")) and not list(root.rglob("*.tmp"))
    assert links.previous_id(root) != links.current_id(root)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two published snapshots (previous, current): what the drills start from."""
    d = tmp_path_factory.mktemp("crash")
    root = d / "store"
    for n in (40, 41):
        plain_run(settings_for(root, write_jsonl(d / f"parts-{n}.jsonl", sample_records(n))))
    assert_sound(root)
    return root


@pytest.fixture
def store(template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the template and a changed source (new raw bytes: fetch writes)."""
    root = tmp_path / "store"
    shutil.copytree(template, root, symlinks=True)
    return root, write_jsonl(tmp_path / "parts.jsonl", sample_records(42))


@pytest.mark.parametrize("point", RUN_POINTS)
def test_a_run_killed_at_any_point(store: tuple[Path, Path], point: str) -> None:
    root, source = store
    s = settings_for(root, source)
    before = (links.current_id(root), links.previous_id(root))
    assert crash_at(point, lambda: plain_run(s)) == CRASHED
    assert_sound(root)
    after = links.current_id(root)
    assert after in before or point in ("links.current_flipped", "publish.logged",
                                        "retention.renamed", "retention.removed")
    plain_run(s, "next")  # the next run succeeds and cleans up
    assert_sound(root)
    assert_clean(root)


@pytest.mark.parametrize("point", ROLLBACK_POINTS)
def test_a_rollback_killed_at_any_point(store: tuple[Path, Path], point: str) -> None:
    root, source = store
    assert crash_at(point, lambda: rollback(root)) == CRASHED
    assert_sound(root)
    plain_run(settings_for(root, source), "next")
    assert_sound(root)
    assert_clean(root)
    rollback(root)  # and rollback works again, to a real previous
    assert_sound(root)


@pytest.mark.parametrize("point", ["build.written", "links.previous_flipped"])
def test_the_next_dagster_run_cleans_up(store: tuple[Path, Path], point: str) -> None:
    """The same through the Dagster job: a killed job, then `snapsearch run`'s job."""
    root, source = store
    s = settings_for(root, source)
    assert crash_at(point, lambda: run_job(s, force=True)) == CRASHED
    assert_sound(root)
    outcome = run_job(s, force=True)
    assert outcome.published
    assert_sound(root)
    assert_clean(root)
