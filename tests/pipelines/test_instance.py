"""`snapsearch run` records into the store's persistent Dagster instance, read back through
Dagster's own API: the run, the materializations with numeric metadata, the check evaluations
(issue 10); a failed gate explains itself there and on the command line; a rollback is
recorded as a materialization of `published`; rollback works where Dagster is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.definitions.metadata import FloatMetadataValue, IntMetadataValue

from pipelines.validate.gates import GATE_NAMES
from snapsearch.format import layout
from tests.conftest import sample_records, write_jsonl

pytestmark = pytest.mark.dagster_instance

SUITE = [
    {"query": "C25744", "expected": ["C25744"]},
    {"query": "AMS1117-3.3", "expected": ["C6186"]},
]
IMPOSSIBLE = [{"id": "bead", "query": "ferrite bead", "expected": ["C1"]}]
NUMBER = (IntMetadataValue, FloatMetadataValue)


def snapsearch(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNAPSEARCH_", "DAGSTER_"))}
    env.update(SNAPSEARCH_ENCODER="hashing", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "snapsearch.cli", *map(str, args)], capture_output=True,
        text=True, env=env, timeout=timeout,
    )


def materializations(instance: DagsterInstance, asset: str) -> list:
    result = instance.fetch_materializations(AssetKey(asset), limit=100, ascending=True)
    return [r.asset_materialization for r in result.records]


def check_evaluations(instance: DagsterInstance, run_id: str) -> dict:
    out = {}
    for r in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records:
        data = r.event_log_entry.dagster_event.event_specific_data
        out[data.check_name] = data
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("instance")
    suite, impossible = d / "suite.jsonl", d / "impossible.jsonl"
    suite.write_text("".join(json.dumps(q) + "\n" for q in SUITE))
    impossible.write_text("".join(json.dumps(q) + "\n" for q in IMPOSSIBLE))
    return {"root": d / "snapshots", "source": write_jsonl(d / "parts.jsonl", sample_records()),
            "suite": suite, "impossible": impossible}


@pytest.fixture(scope="module")
def ran(store: dict[str, Path]) -> dict[str, object]:
    """Three `snapsearch run`s (published, failed gates, unchanged) and one rollback."""
    root = store["root"]
    common = ("--root", root, "--source", store["source"])
    first = snapsearch("run", *common, "--suite", store["suite"])
    assert first.returncode == 0, first.stderr
    failed = snapsearch("run", *common, "--suite", store["impossible"], "--force")
    second = snapsearch("run", *common, "--suite", store["suite"], "--force")
    assert second.returncode == 0, second.stderr
    back = snapsearch("rollback", "--root", root)
    assert back.returncode == 0, back.stderr
    return {"first": first, "failed": failed, "second": second, "rollback": back}


@pytest.fixture
def instance(ran: dict[str, object], store: dict[str, Path]):  # type: ignore[no-untyped-def]
    home = layout.dagster_dir(store["root"])
    assert (home / "dagster.yaml").is_file()
    with DagsterInstance.from_config(str(home)) as inst:
        yield inst


def test_every_cli_run_is_in_the_instance(instance: DagsterInstance) -> None:
    runs = sorted(instance.get_runs(), key=lambda r: r.run_id)
    assert len(runs) == 3
    statuses = [r.status for r in runs]
    assert statuses.count(DagsterRunStatus.SUCCESS) == 2
    assert statuses.count(DagsterRunStatus.FAILURE) == 1
    assert all(r.tags.get("snapsearch/trigger") == "cli" for r in runs)
    assert {r.job_name for r in runs} == {"snapsearch_job"}


def test_materializations_carry_numeric_metadata(instance: DagsterInstance) -> None:
    snapshots = materializations(instance, "snapshot")
    assert len(snapshots) == 3
    for m in snapshots:
        for key in ("records", "rejects", "embeddings_reused", "embeddings_encoded",
                    "encode_seconds", "build_seconds", "snapshot_bytes"):
            assert isinstance(m.metadata[key], NUMBER), key
        assert m.metadata["records"].value > 300
    assert isinstance(materializations(instance, "raw_records")[0].metadata["bytes"], NUMBER)
    published = materializations(instance, "published")
    live = [m for m in published if m.metadata.get("published") is None
            or m.metadata["published"].value]
    for m in live[:2]:
        for key in ("ann_recall", "hit@1", "hit@10", "mrr@10", "ndcg@10", "p50_ms", "p95_ms",
                    "snapshot_bytes", "records"):
            assert isinstance(m.metadata[key], NUMBER), key
        assert m.metadata["snapshot_id"].value and m.metadata["flipped_at"].value


def test_check_evaluations_with_figures(instance: DagsterInstance) -> None:
    run = next(r for r in instance.get_runs() if r.status == DagsterRunStatus.SUCCESS)
    checks = check_evaluations(instance, run.run_id)
    assert set(checks) == set(GATE_NAMES) == {
        "integrity", "compatibility", "query_encoder", "ann_recall", "quality", "latency",
        "exclusions",
    }
    assert all(c.passed for c in checks.values())
    assert isinstance(checks["ann_recall"].metadata["recall@10"], NUMBER)
    assert isinstance(checks["ann_recall"].metadata["minimum"], NUMBER)
    for key in ("hit@1", "hit@10", "mrr@10", "ndcg@10", "min.hit@1"):
        assert isinstance(checks["quality"].metadata[key], NUMBER), key
    assert isinstance(checks["latency"].metadata["p95_ms"], NUMBER)


def test_a_failed_gate_explains_itself(
    instance: DagsterInstance, ran: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    failed = ran["failed"]
    assert failed.returncode == 1
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("error: run ") and "quality" in line and "hit@1 0.000 < 0.6" in line
    run = next(r for r in instance.get_runs() if r.status == DagsterRunStatus.FAILURE)
    assert run.run_id in line
    quality = check_evaluations(instance, run.run_id)["quality"]
    assert not quality.passed
    meta = quality.metadata
    assert "hit@1 0.000 < 0.6" in meta["failed_because"].value
    assert meta["hit@1"].value == 0.0 and meta["min.hit@1"].value == 0.6
    assert meta["missed_at_10"].value == [{"id": "bead", "query": "ferrite bead"}]


def test_the_rollback_is_recorded_as_what_is_live(
    instance: DagsterInstance, store: dict[str, Path], ran: dict[str, object]
) -> None:
    last = materializations(instance, "published")[-1]
    current = (store["root"] / layout.CURRENT).resolve().name
    assert last.metadata["action"].value == "rollback"
    assert last.metadata["snapshot_id"].value == current
    assert last.metadata["previous_id"].value and last.metadata["flipped_at"].value


def test_rollback_works_without_dagster(store: dict[str, Path], ran: dict[str, object]) -> None:
    """A serve-only install has no Dagster: rollback moves the links and says nothing of it."""
    root = store["root"]
    before = (root / layout.CURRENT).resolve().name
    code = ("import sys; sys.modules['dagster'] = None\n"
            "from snapsearch.cli import main\n"
            "sys.argv = ['snapsearch', 'rollback', '--root', sys.argv[1]]; main()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPSEARCH_")}
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(f"rolled back: current {before} -> ")
    assert "dagster" not in out.stderr.lower()
    assert (root / layout.CURRENT).resolve().name != before
