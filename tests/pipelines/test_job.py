"""The whole Dagster job in-process (fake encoder): publish, unchanged, force, blocked, bad
source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pipelines.definitions import JOB_NAME, build_definitions
from pipelines.job import run_job
from pipelines.publish import read_publish_log
from snapsearch.format import layout
from snapsearch.format.errors import GateError, SourceError
from snapsearch.format.gates import read_gate_report
from snapsearch.format.links import current_id, previous_id
from snapsearch.settings import PipelineSettings, SettingsError

SUITE = [
    {"query": "C25744", "expected": ["C25744"]},
    {"query": "AMS1117-3.3", "expected": ["C6186"]},
]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    p = tmp_path / "suite.jsonl"
    p.write_text("".join(json.dumps(q) + "\n" for q in SUITE))
    return p


def _run(root: Path, source: Path, suite: Path | str, **kw):
    settings = PipelineSettings(root=root, source=str(source), suite=suite, encoder="hashing")
    return run_job(settings, **kw)


def test_job_publishes_then_skips_unchanged_then_forces(tmp_path, parts_file, suite):
    root = tmp_path / "store"
    first = _run(root, parts_file, suite)
    assert first.published and current_id(root) == first.current
    assert all(g["passed"] for g in first.gates.values())
    assert read_gate_report(root / first.current).passed

    again = _run(root, parts_file, suite)
    assert not again.published and again.current == first.current
    assert "unchanged" in again.note
    assert len(layout.list_snapshot_dirs(root)) == 1

    forced = _run(root, parts_file, suite, force=True)
    assert forced.published and forced.current != first.current
    assert current_id(root) == forced.current and previous_id(root) == first.current
    assert [e.to_id for e in read_publish_log(root)] == [first.current, forced.current]


def test_failed_gate_blocks_publish_and_keeps_current(tmp_path, parts_file, suite):
    root = tmp_path / "store"
    first = _run(root, parts_file, suite)
    impossible = tmp_path / "suite.jsonl"
    impossible.write_text(json.dumps({"query": "ferrite bead", "expected": ["C1"]}) + "\n")
    with pytest.raises(GateError, match="quality"):
        _run(root, parts_file, impossible, force=True)
    assert current_id(root) == first.current
    assert len(read_publish_log(root)) == 1
    newest = layout.list_snapshot_dirs(root)[-1]
    report = read_gate_report(newest)
    assert newest.name != first.current and report is not None and not report.passed


def test_unparseable_source_fails_naming_file_and_line(tmp_path, parts_file, suite):
    root = tmp_path / "store"
    first = _run(root, parts_file, suite)
    bad = tmp_path / "bad.jsonl"
    lines = parts_file.read_text().splitlines()
    bad.write_text("\n".join(lines[:5] + ["{not json"] + lines[5:]) + "\n")
    with pytest.raises(SourceError, match=r"bad\.jsonl: line 6"):
        _run(root, bad, suite)
    assert current_id(root) == first.current
    assert not any(p.name.startswith(layout.TMP_PREFIX) for p in root.iterdir() if p.is_dir())


def test_invalid_settings_name_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SNAPSEARCH_ROOT", str(tmp_path))
    monkeypatch.setenv("SNAPSEARCH_FETCH_RETRIES", "often")
    with pytest.raises(SettingsError, match="SNAPSEARCH_FETCH_RETRIES should be an integer"):
        run_job()


def test_the_dagster_resource_reports_invalid_settings(monkeypatch, tmp_path):
    """What `dagster dev` runs: the resource reads the environment in the step."""
    monkeypatch.setenv("SNAPSEARCH_ROOT", str(tmp_path))
    monkeypatch.setenv("SNAPSEARCH_MAX_REJECT_RATE", "2")
    job = build_definitions().resolve_job_def(JOB_NAME)
    with DagsterInstance.ephemeral() as instance:
        with pytest.raises(SettingsError, match="SNAPSEARCH_MAX_REJECT_RATE should be a number"):
            job.execute_in_process(instance=instance)
