"""The cutover drill, short: load on a real server process while `current` moves, with the
close delay at 0 (issue 11 finding 6: the old timer closed the database under requests: 500s,
then a crash in libsqlite3). Every answer 200 and from the old or the new snapshot."""

from __future__ import annotations

from pathlib import Path

from eval.drivers.cutover import run_drill
from snapsearch.format.model import HashingEncoder


def test_no_failed_request_across_cutovers_at_close_delay_0(tmp_path: Path) -> None:
    f = run_drill(encoder=HashingEncoder(), backend="hashing", cutovers=6, interval_s=0.6,
                  clients=3, steady_s=1.0, close_grace_s=0.0, poll_s=0.1, records=200,
                  work=tmp_path, log=lambda m: None)
    assert f["failures"] == 0, f["failure_examples"]
    assert f["server_errors"] == [] and f["server_exit"] == 0
    a, b = f["snapshots"]
    assert f["answered_from"][a] > 0 and f["answered_from"][b] > 0
    assert f["server_swaps"] >= 2 and f["answer_switches"] >= 1
    assert f["server_snapshots_retiring"] == 0  # every replaced snapshot closed
    assert f["steady"]["requests"] > 0 and f["during_cutovers"]["requests"] > 0


def test_the_command_runs_the_drill(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`python -m eval cutover` as typed: its settings, the drill, the JSON (it read a setting
    that moved to PipelineSettings and failed before building anything)."""
    import json
    import tempfile

    from typer.testing import CliRunner

    from eval.__main__ import app

    monkeypatch.setenv("SNAPSEARCH_ENCODER", "hashing")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the drill's work directory
    out = tmp_path / "cutover.json"
    result = CliRunner().invoke(app, [
        "cutover", "--cutovers", "2", "--interval", "0.5", "--clients", "2", "--steady", "0.5",
        "--records", "100", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["encoder"] == "hashing" and figures["failures"] == 0
