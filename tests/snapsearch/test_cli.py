"""The `snapsearch` command: every command's success, its error exit codes and its --json shape,
and its options checked against the settings they set. The encoder is the fake 'hashing' one,
chosen the way a user would: SNAPSEARCH_ENCODER."""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest
from click.testing import Result
from starlette.testclient import TestClient
from typer.models import OptionInfo
from typer.testing import CliRunner

from pipelines.fetch import fetch_source
from pipelines.transform.build import BuildOptions, CollectionSpec, build_snapshot
from snapsearch.cli import EXIT_FAILED, EXIT_USAGE, app, flag
from snapsearch.format import layout
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import SETTINGS_CLASSES, env_name
from tests.conftest import REPO, sample_records, write_jsonl

HASHING = {"SNAPSEARCH_ENCODER": "hashing"}
SUITE = [
    {"query": "C25744", "expected": ["C25744"]},
    {"query": "AMS1117-3.3", "expected": ["C6186"]},
]


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={**HASHING, **(env or {})})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("inputs")
    suite = d / "suite.jsonl"
    suite.write_text("".join(json.dumps(q) + "\n" for q in SUITE))
    return write_jsonl(d / "parts.jsonl", sample_records()), suite


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, inputs: tuple[Path, Path]) -> Path:
    """A store with one snapshot, published by `snapsearch run`."""
    root = tmp_path_factory.mktemp("cli") / "snapshots"
    source, suite = inputs
    result = invoke("run", "--root", root, "--source", source, "--suite", suite)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """The server configures the snapsearch loggers; put them back for the other tests."""
    logger = logging.getLogger("snapsearch")
    state = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = state


def current(root: Path) -> str:
    return (root / layout.CURRENT).resolve().name


# -- options and settings ----------------------------------------------------------------------

DECLARED = {  # field -> the class that declares it (not one that inherits it)
    name: cls for cls in SETTINGS_CLASSES for name in cls.__annotations__
    if name in cls.model_fields
}


def _options() -> Iterator[tuple[str, str, object, object, OptionInfo]]:
    """(command, parameter, its type, its default, its typer option) of every option."""
    for command in app.registered_commands:
        fn = command.callback
        assert fn is not None
        hints = get_type_hints(fn, include_extras=True)
        for name, param in inspect.signature(fn).parameters.items():
            annotated = get_args(hints[name])
            info = next((m for m in annotated[1:] if isinstance(m, OptionInfo)), None)
            if info is not None:
                yield command.name or fn.__name__, name, annotated[0], param.default, info


def _not_none(annotation: object) -> set[object]:
    return {a for a in (get_args(annotation) or (annotation,)) if a is not type(None)}


def test_every_setting_option_is_its_declaration() -> None:
    seen = set()
    for command, name, annotation, default, opt in _options():
        cls = DECLARED.get(name)
        help_text = opt.help or ""
        where = f"snapsearch {command} --{name}"
        if cls is None:
            assert "SNAPSEARCH_" not in help_text, f"{where} names a variable no setting declares"
            continue
        seen.add(name)
        info = cls.model_fields[name]
        # in Annotated, typer takes a first positional flag as the option's name
        decls = [d for d in (opt.default, *opt.param_decls) if isinstance(d, str)]
        assert decls == [flag(name)], where
        assert help_text.endswith(f"; env var {env_name(cls, name)}"), where
        assert opt.envvar is None, f"{where}: the settings read the variable, not typer"
        assert default is None, f"{where} repeats a default; the setting's applies"
        declared_default = info.get_default(call_default_factory=True)
        assert opt.show_default == (
            False if declared_default is None else str(declared_default)
        ), where
        assert _not_none(annotation) == _not_none(info.annotation), where
    assert seen == {"root", "source", "suite", "host", "port", "workers"}


def test_help_shows_the_variable_and_the_default() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in ("SNAPSEARCH_HOST", "SNAPSEARCH_PORT", "SNAPSEARCH_ROOT", "127.0.0.1", "8000"):
        assert text in result.output


# -- run -----------------------------------------------------------------------------------


def test_run_publishes_then_skips_unchanged(published: Path, inputs: tuple[Path, Path]) -> None:
    sid = current(published)
    source, suite = inputs
    again = invoke("run", "--root", published, "--source", source, "--suite", suite)
    assert again.exit_code == 0, again.output
    assert "nothing published: inputs unchanged" in again.stdout
    assert f"current: {sid}" in again.stdout and current(published) == sid


def test_run_settings_from_the_environment(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    source, suite = inputs
    root = tmp_path / "store"
    env = {"SNAPSEARCH_ROOT": str(root), "SNAPSEARCH_SOURCE": str(source),
           "SNAPSEARCH_SUITE": str(suite)}
    result = invoke("run", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("published ") and current(root) in result.stdout


def test_run_source_with_several_collections_is_a_usage_error(tmp_path: Path) -> None:
    cols = [{"name": "a", "kind": "parts", "source": "a"}, {"name": "b", "kind": "text",
                                                            "source": "b"}]
    result = invoke("run", "--root", tmp_path, "--source", "x.jsonl",
                    env={"SNAPSEARCH_COLLECTIONS": json.dumps(cols)})
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.startswith("error: invalid settings: SNAPSEARCH_SOURCE (--source): ")
    assert "SNAPSEARCH_COLLECTIONS" in result.stderr


def test_run_missing_source_fails(tmp_path: Path) -> None:
    result = invoke("run", "--root", tmp_path, "--source", tmp_path / "nope.jsonl",
                    "--suite", "none")
    assert result.exit_code == EXIT_FAILED
    assert "nope.jsonl" in result.stderr and "SNAPSEARCH_SOURCE" in result.stderr


def test_run_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    result = invoke("run", "--root", tmp_path, env={"SNAPSEARCH_BATCH_SIZE": "lots"})
    assert result.exit_code == EXIT_USAGE
    assert "SNAPSEARCH_BATCH_SIZE should be an integer" in result.stderr


# -- status ----------------------------------------------------------------------------------


def test_status_json(published: Path) -> None:
    result = invoke("status", "--root", published, "--json")
    assert result.exit_code == 0, result.output
    st = json.loads(result.stdout)
    assert set(st) == {"root", "current", "previous", "snapshots", "events", "run"}
    assert st["run"] is None
    assert st["current"] == current(published) and st["previous"] is None
    (snap,) = st["snapshots"]
    assert set(snap) == {"snapshot_id", "path", "built_at", "bytes", "gates_passed",
                         "is_current", "is_previous"}
    assert snap["is_current"] and snap["gates_passed"] is True
    (event,) = st["events"]
    assert set(event) == {"at", "action", "from", "to", "gate_summary", "note"}
    assert event["action"] == "publish" and event["to"] == st["current"]


def test_status_text(published: Path) -> None:
    result = invoke("status", env={"SNAPSEARCH_ROOT": str(published)})
    assert result.exit_code == 0, result.output
    assert f"current:  {current(published)}" in result.stdout
    assert f"* {current(published)}" in result.stdout and "gates passed" in result.stdout


@pytest.mark.parametrize("command", ["status", "rollback", "query x"])
def test_a_bad_root_fails(tmp_path: Path, command: str) -> None:
    missing = invoke(*command.split(), "--root", tmp_path / "nothing")
    assert missing.exit_code == EXIT_FAILED
    assert "no snapshot store at" in missing.stderr and "does not exist" in missing.stderr
    a_file = tmp_path / "file"
    a_file.write_text("")
    not_dir = invoke(*command.split(), env={"SNAPSEARCH_ROOT": str(a_file)})
    assert not_dir.exit_code == EXIT_FAILED and "is not a directory" in not_dir.stderr


# -- rollback --------------------------------------------------------------------------------


def test_rollback(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    root = tmp_path / "store"
    source, suite = inputs
    args = ("--root", root, "--source", source, "--suite", suite)
    assert invoke("run", *args).exit_code == 0
    first = current(root)
    none_yet = invoke("rollback", "--root", root)
    assert none_yet.exit_code == EXIT_FAILED and "error: " in none_yet.stderr
    assert invoke("run", *args, "--force").exit_code == 0
    second = current(root)
    assert second != first

    back = invoke("rollback", "--root", root)
    assert back.exit_code == 0, back.output
    assert back.stdout.strip() == f"rolled back: current {second} -> {first}"
    assert current(root) == first

    named = invoke("rollback", second, "--root", root)
    assert named.exit_code == 0 and current(root) == second

    bad = invoke("rollback", "20990101T000000000000Z-deadbeef", "--root", root)
    assert bad.exit_code == EXIT_FAILED and "20990101T000000000000Z-deadbeef" in bad.stderr
    assert current(root) == second


# -- verify ----------------------------------------------------------------------------------


def test_verify_a_sound_snapshot(published: Path) -> None:
    result = invoke("verify", published / layout.CURRENT)
    assert result.exit_code == 0, result.output
    assert "matches the pin" in result.stdout
    assert result.stdout.strip().endswith(f"ok: {current(published)}")


class _DriftedCanary:
    """The hashing encoder, but its pin records a canary it does not compute (as a query
    encoder that no longer reproduces the build model would)."""

    def __init__(self) -> None:
        self._inner = HashingEncoder(32)
        canary = self._inner.pin.canary
        vector = [canary.vector[0] + 0.5, *canary.vector[1:]]
        self.pin = self._inner.pin.model_copy(
            update={"canary": canary.model_copy(update={"vector": vector})}
        )

    def encode(self, texts: Any, **kw: Any) -> Any:
        return self._inner.encode(texts, **kw)


def test_verify_refuses_a_query_encoder_that_does_not_match(tmp_path: Path) -> None:
    root = tmp_path / "store"
    raw = fetch_source(str(write_jsonl(tmp_path / "parts.jsonl", sample_records(40))), root)
    result = build_snapshot(
        root, [CollectionSpec("parts", "parts", raw)], _DriftedCanary(), BuildOptions()
    )
    out = invoke("verify", result.path, "--no-gates")  # not validated: the pin is what fails
    assert out.exit_code == EXIT_FAILED
    assert "does not match the snapshot's pin" in out.stderr and "canary" in out.stderr
    assert invoke("verify", result.path, "--no-model", "--no-gates").exit_code == 0


def test_verify_a_corrupt_snapshot_fails(published: Path, tmp_path: Path) -> None:
    copy = tmp_path / current(published)
    shutil.copytree(published / layout.CURRENT, copy)
    with open(copy / layout.SQLITE, "r+b") as f:
        f.seek(200)
        f.write(b"\x00corrupt")
    result = invoke("verify", copy, "--no-model")
    assert result.exit_code == EXIT_FAILED and "sha256" in result.stderr


def test_verify_needs_a_directory(tmp_path: Path) -> None:
    result = invoke("verify", tmp_path / "nope")
    assert result.exit_code == EXIT_FAILED and "is not a directory" in result.stderr


# -- query -----------------------------------------------------------------------------------


def test_query_json(published: Path) -> None:
    result = invoke("query", "--root", published, "--json", "--limit", "3", "C25744")
    assert result.exit_code == 0, result.output
    resp = json.loads(result.stdout)
    assert {"query", "mode", "collection", "snapshot_id", "match", "hits", "took_ms"} <= set(resp)
    assert resp["snapshot_id"] == current(published) and resp["collection"] == "parts"
    assert len(resp["hits"]) <= 3 and resp["hits"][0]["id"] == "C25744"
    assert set(resp["hits"][0]) == {"id", "score", "scores", "reasons", "record"}


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_query_text(published: Path, mode: str) -> None:
    result = invoke("query", "--root", published, "--mode", mode, "AMS1117-3.3")
    assert result.exit_code == 0, result.output
    first_line, *hits = result.stdout.splitlines()
    assert first_line.startswith(current(published)) and f"mode={mode}" in first_line
    assert hits and hits[0].lstrip().startswith("1. ")


def test_query_without_a_snapshot_fails(tmp_path: Path) -> None:
    result = invoke("query", "--root", tmp_path, "resistor")
    assert result.exit_code == EXIT_FAILED and "snapsearch run" in result.stderr


def test_query_bad_arguments_are_usage_errors(published: Path) -> None:
    mode = invoke("query", "--root", published, "--mode", "psychic", "resistor")
    assert mode.exit_code == EXIT_USAGE and "invalid mode" in mode.stderr
    collection = invoke("query", "--root", published, "--collection", "nope", "resistor")
    assert collection.exit_code == EXIT_FAILED and "nope" in collection.stderr


def test_query_filters_offset_and_collection_match_the_api(published: Path) -> None:
    args = ["--json", "--limit", "5", "--collection", "parts", "-f", "package=0402",
            "--filter", "in_stock=true", "-f", "library_type=Basic", "-f", "stock_min=10",
            "-f", "numeric=Resistance:resistance:1000:", "resistor"]
    result = invoke("query", "--root", published, *args)
    assert result.exit_code == 0, result.output
    resp = json.loads(result.stdout)
    assert resp["hits"] and resp["collection"] == "parts"
    for hit in resp["hits"]:
        rec = hit["record"]
        assert rec["package"] == "0402" and rec["library_type"] == "Basic"
        assert rec["stock"] >= 10

    # the same search through the API answers the same
    from serve.app import create_app
    from snapsearch.settings import ServeSettings

    app = create_app(ServeSettings(root=published, reload_poll_s=0))
    body = {"query": "resistor", "limit": 5, "collection": "parts", "filters": {
        "package": "0402", "in_stock": True, "library_type": "Basic", "stock_min": 10,
        "numeric": [{"attribute": "Resistance", "key": "resistance", "min": 1000}]}}
    with TestClient(app) as client:
        api = client.post("/v1/search", json=body).json()
    assert [h["id"] for h in api["hits"]] == [h["id"] for h in resp["hits"]]

    # --filters (the API's JSON object) and --offset page through the same ranking
    whole = json.loads(invoke("query", "--root", published, "--json", "--limit", "6",
                              "--filters", '{"package": "0402"}', "resistor").stdout)
    page = json.loads(invoke("query", "--root", published, "--json", "--limit", "3",
                             "--offset", "3", "-f", "package=0402", "resistor").stdout)
    assert [h["id"] for h in page["hits"]] == [h["id"] for h in whole["hits"][3:]]
    assert page["offset"] == 3


def test_query_text_says_no_match(published: Path) -> None:
    result = invoke("query", "--root", published, "--mode", "lexical", "zzzzqqqq")
    assert result.exit_code == 0
    assert "match=none" in result.stdout and "no match" in result.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["-f", "colour=red"], ["colour", "its filters", "package"]),
    (["-f", "package"], ["NAME=VALUE"]),
    (["-f", "stock_min=lots"], ["stock_min", "whole number"]),
    (["-f", "in_stock=maybe"], ["in_stock", "true or false"]),
    (["-f", "numeric=Resistance:resistance"], ["ATTRIBUTE:KEY:MIN:MAX"]),
    (["-f", "numeric=Resistance::1:2"], ["attribute", "key"]),
    (["--filters", "{not json"], ["--filters", "JSON"]),
    (["--filters", "[1]"], ["JSON object"]),
    (["--filters", '{"library_type": "Gold"}'], ["library_type", "Basic"]),
    (["--filters", '{"stock_min": 9223372036854775808}'], ["stock_min", "9223372036854775807"]),
    (["--filters", '{"stock_min": "10"}'], ["stock_min", "integer"]),
    (["--min-score", "2"], ["min-score"]),
    (["--offset", "-1"], ["offset"]),
])
def test_query_invalid_filters_are_usage_errors(published: Path, args: list[str],
                                                words: list[str]) -> None:
    result = invoke("query", "--root", published, *args, "resistor")
    assert result.exit_code == EXIT_USAGE, result.output
    for word in words:
        assert word in result.stderr


# -- serve -----------------------------------------------------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, keep_logging: None) -> list[dict[str, Any]]:
    """The server recorded instead of listening: its app and uvicorn options."""
    from serve import runner

    calls: list[dict[str, Any]] = []

    def record(app: Any, settings: Any, sockets: Any = None) -> bool:
        calls.append({"app": app, **runner.uvicorn_options(settings)})
        return True

    monkeypatch.setattr(runner, "serve_app", record)
    return calls


def test_serve_and_python_m_serve_start_the_same_server(
    published: Path, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**HASHING, "SNAPSEARCH_RELOAD_POLL_S": "0", "SNAPSEARCH_ROOT": str(published),
           "SNAPSEARCH_PORT": "8123", "SNAPSEARCH_LOG_LEVEL": "warning"}
    result = invoke("serve", env=env)
    assert result.exit_code == 0, result.output
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from serve.__main__ import main

    assert main() == 0
    cli, module = uvicorn_calls
    expected = {"host": "127.0.0.1", "port": 8123, "log_level": "warning", "lifespan": "on",
                "access_log": False}
    assert {k: cli[k] for k in expected} == {k: module[k] for k in expected} == expected
    assert logging.getLogger("snapsearch").level == logging.WARNING
    with TestClient(cli["app"]) as client:  # the app the CLI built serves the store
        assert client.get("/readyz").status_code == 200
        hits = client.post("/v1/search", json={"query": "C25744"}).json()["hits"]
        assert hits[0]["id"] == "C25744"


def test_serve_flags_override_the_environment(
    published: Path, uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = invoke("serve", "--root", published, "--host", "0.0.0.0", "--port", "9001",
                    env={"SNAPSEARCH_PORT": "8123"})
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0]["host"] == "0.0.0.0" and uvicorn_calls[0]["port"] == 9001


def test_serve_invalid_settings_exit_2(uvicorn_calls: list[dict[str, Any]], monkeypatch) -> None:
    bad_env = invoke("serve", env={"SNAPSEARCH_PORT": "http"})
    assert bad_env.exit_code == EXIT_USAGE
    assert bad_env.stderr.startswith(
        "error: invalid settings: SNAPSEARCH_PORT should be an integer"
    )
    bad_flag = invoke("serve", "--port", "0")
    assert bad_flag.exit_code == EXIT_USAGE
    assert "SNAPSEARCH_PORT (--port) should be an integer" in bad_flag.stderr

    from serve.__main__ import main

    monkeypatch.setenv("SNAPSEARCH_PORT", "http")
    assert main() == EXIT_USAGE
    assert uvicorn_calls == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [["-m", "snapsearch.cli", "serve"], ["-m", "serve"]])
def test_serve_listens_and_stops(published: Path, command: list[str]) -> None:
    port = _free_port()
    env = {**os.environ, **HASHING, "SNAPSEARCH_ROOT": str(published), "SNAPSEARCH_PORT": str(port),
           "SNAPSEARCH_RELOAD_POLL_S": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, *command], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)
        assert current(published) in r.text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # a clean shutdown: drained, then exit status 0 (not death by the signal)
    assert proc.returncode == 0, err
    assert "Application shutdown complete" in err
    assert '"message":"serving ' in err  # the same JSON log line from both
