"""One settings surface: every SNAPSEARCH_* setting declared once, typed, read from the
environment, and an invalid one reported as its variable and the type it should hold."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from snapsearch.settings import (
    SAMPLE_SOURCE,
    SAMPLE_SUITE,
    SETTINGS_CLASSES,
    Collection,
    CommonSettings,
    GateSettings,
    PipelineSettings,
    ServeSettings,
    SettingsError,
    declared_variables,
    describe_type,
    env_name,
    load_settings,
    public_dump,
)
from tests.conftest import REPO


def _error(cls: type[BaseSettings], **kw: object) -> str:
    with pytest.raises(SettingsError) as exc:
        load_settings(cls, kw)
    return str(exc.value)


# -- declarations ------------------------------------------------------------------------------


def test_no_setting_is_declared_twice() -> None:
    owners: dict[str, list[str]] = {}
    for cls in SETTINGS_CLASSES:
        for name in cls.__annotations__:
            if name in cls.model_fields:
                owners.setdefault(env_name(cls, name), []).append(cls.__name__)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}
    # the server and the pipeline share the common declarations rather than repeating them
    for cls in (ServeSettings, PipelineSettings):
        assert issubclass(cls, CommonSettings)
        assert not set(cls.__annotations__) & set(CommonSettings.model_fields)


def test_every_setting_says_what_it_is() -> None:
    for cls in SETTINGS_CLASSES:
        for name, info in cls.model_fields.items():
            assert info.description, f"{env_name(cls, name)} has no description"


def test_defaults_build_the_bundled_sample_into_one_parts_collection() -> None:
    s = load_settings(PipelineSettings)
    assert s.collections == [Collection(name="parts", kind="parts", source=str(SAMPLE_SOURCE))]
    assert s.build_collections() == s.collections
    assert s.suite == SAMPLE_SUITE and s.encoder == "minilm"
    assert s.root == load_settings(ServeSettings).root


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    class WithToken(CommonSettings):
        token: SecretStr | None = None

    monkeypatch.setenv("SNAPSEARCH_TOKEN", "s3cr3t-value")
    s = WithToken()
    assert s.token is not None and s.token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s)
    assert "token" not in public_dump(s)
    assert "s3cr3t" not in json.dumps(public_dump(s))


def test_secret_looking_settings_are_secret_typed() -> None:
    for cls in SETTINGS_CLASSES:
        for name, info in cls.model_fields.items():
            if set(name.split("_")) & {"token", "secret", "password", "key", "credentials"}:
                assert "SecretStr" in str(info.annotation), f"{env_name(cls, name)} is not secret"


# -- reading the environment -----------------------------------------------------------------


def test_settings_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SNAPSEARCH_ROOT", str(tmp_path))
    monkeypatch.setenv("SNAPSEARCH_PORT", "8123")
    monkeypatch.setenv("SNAPSEARCH_GATE_HIT1_MIN", "0.25")
    monkeypatch.setenv("SNAPSEARCH_HNSW", '{"M": 8}')
    monkeypatch.setenv("SNAPSEARCH_SUITE", "none")
    serve, pipe = load_settings(ServeSettings), load_settings(PipelineSettings)
    assert serve.root == pipe.root == tmp_path and serve.port == 8123
    assert pipe.gates.hit1_min == 0.25 and pipe.hnsw.M == 8 and pipe.suite is None


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_PORT", "8123")
    assert load_settings(ServeSettings, {"port": 9000}).port == 9000


def test_collections_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    cols = [{"name": "parts", "kind": "parts", "source": "a.jsonl"},
            {"name": "docs", "kind": "text", "source": "corpus.jsonl"}]
    monkeypatch.setenv("SNAPSEARCH_COLLECTIONS", json.dumps(cols))
    s = load_settings(PipelineSettings)
    assert [c.model_dump() for c in s.build_collections()] == cols
    assert s.build_fingerprint()["collections"] == [
        {"name": "parts", "kind": "parts"}, {"name": "docs", "kind": "text"}
    ]


def test_source_sets_the_one_collections_source() -> None:
    s = load_settings(PipelineSettings, {"source": "other.jsonl"})
    assert s.build_collections() == [
        Collection(name="parts", kind="parts", source="other.jsonl")
    ]
    assert s.collections[0].source == str(SAMPLE_SOURCE)  # the declaration itself is unchanged


def test_source_with_several_collections_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_COLLECTIONS", json.dumps([
        {"name": "a", "kind": "parts", "source": "a"}, {"name": "b", "kind": "text", "source": "b"}
    ]))
    with pytest.raises(SettingsError) as exc:
        load_settings(PipelineSettings, {"source": "x.jsonl"}, flag=lambda f: f"--{f}")
    msg = str(exc.value)
    assert msg.startswith("invalid settings: SNAPSEARCH_SOURCE (--source): ")
    assert "2 (a, b)" in msg and "SNAPSEARCH_COLLECTIONS" in msg


# -- errors name the variable and the expected type ------------------------------------------


@pytest.mark.parametrize(
    ("cls", "env", "value", "expected"),
    [
        (ServeSettings, "SNAPSEARCH_PORT", "abc",
         "SNAPSEARCH_PORT should be an integer: Input should be a valid integer"),
        (ServeSettings, "SNAPSEARCH_PORT", "70000",
         "SNAPSEARCH_PORT should be an integer: Input should be less than or equal to 65535"),
        (ServeSettings, "SNAPSEARCH_VERIFY_CHECKSUMS", "maybe",
         "SNAPSEARCH_VERIFY_CHECKSUMS should be true or false"),
        (ServeSettings, "SNAPSEARCH_LOG_LEVEL", "loud",
         "SNAPSEARCH_LOG_LEVEL should be one of 'debug', 'info', 'warning', 'error', 'critical'"),
        (PipelineSettings, "SNAPSEARCH_ENCODER", "bert",
         "SNAPSEARCH_ENCODER should be one of 'minilm', 'hashing'"),
        (PipelineSettings, "SNAPSEARCH_GATE_HIT1_MIN", "high",
         "SNAPSEARCH_GATE_HIT1_MIN should be a number"),
        (PipelineSettings, "SNAPSEARCH_RETENTION", "-1",
         "SNAPSEARCH_RETENTION should be an integer: Input should be greater than or equal to 0"),
        (PipelineSettings, "SNAPSEARCH_COLLECTIONS", "[{",
         "SNAPSEARCH_COLLECTIONS should be a JSON list of {name, kind, source}: not valid JSON"),
        (PipelineSettings, "SNAPSEARCH_COLLECTIONS", '[{"name": "x", "kind": "parts"}]',
         "SNAPSEARCH_COLLECTIONS at 0.source should be a JSON list of {name, kind, source}: "
         "Field required"),
        (PipelineSettings, "SNAPSEARCH_COLLECTIONS",
         '[{"name": "x", "kind": "nope", "source": "s"}]',
         "SNAPSEARCH_COLLECTIONS at 0.kind: unknown record kind 'nope': known kinds are"),
        (PipelineSettings, "SNAPSEARCH_COLLECTIONS",
         '[{"name": "No!", "kind": "parts", "source": "s"}]',
         "SNAPSEARCH_COLLECTIONS at 0.name: collection name 'No!' is not valid"),
        (PipelineSettings, "SNAPSEARCH_HNSW", '{"M": "many"}',
         "SNAPSEARCH_HNSW at M should be a JSON object"),
        (PipelineSettings, "SNAPSEARCH_TOKENIZER", "x; drop table",
         "SNAPSEARCH_TOKENIZER: an FTS5 tokenize argument"),
    ],
)
def test_an_invalid_variable_is_named_with_its_type(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as exc:
        load_settings(cls)
    msg = str(exc.value)
    assert msg.startswith("invalid settings: ") and "\n" not in msg
    assert expected in msg


def test_every_invalid_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_PORT", "x")
    monkeypatch.setenv("SNAPSEARCH_SEARCH_THREADS", "0")
    msg = _error(ServeSettings)
    assert "SNAPSEARCH_PORT" in msg and "SNAPSEARCH_SEARCH_THREADS" in msg and "(got '0')" in msg


def test_an_override_is_named_by_its_flag() -> None:
    with pytest.raises(SettingsError, match=r"SNAPSEARCH_PORT \(--port\) should be an integer"):
        load_settings(ServeSettings, {"port": 0}, flag=lambda f: f"--{f}")


def test_an_unknown_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_PORTT", "8000")
    monkeypatch.setenv("SNAPSEARCH_GATES", '{"hit1_min": 0}')  # thresholds are SNAPSEARCH_GATE_*
    assert _error(ServeSettings) == (
        "invalid settings: unknown setting SNAPSEARCH_GATES (docs/settings.md lists them); "
        "unknown setting SNAPSEARCH_PORTT (did you mean SNAPSEARCH_PORT?)"
    )


def test_gate_settings_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_GATE_LATENCY_QUERIES", "0")
    assert "SNAPSEARCH_GATE_LATENCY_QUERIES should be an integer" in _error(GateSettings)


# -- the docs name only declared settings, and docs/settings.md lists every one ----------------

DOC = REPO / "docs" / "settings.md"
_ENV = re.compile(r"\bSNAPSEARCH_[A-Z0-9_]*[A-Z0-9]\b")


def reference_table() -> str:
    """The table docs/settings.md holds, made from the declarations."""
    rows = ["| variable | type | default | what |", "|---|---|---|---|"]
    for env, (cls, name) in declared_variables().items():
        info = cls.model_fields[name]
        default = info.get_default(call_default_factory=True)
        if isinstance(default, Path):
            default = default.relative_to(REPO) if default.is_relative_to(REPO) else default
        elif isinstance(default, list):
            default = json.dumps([d.model_dump() if isinstance(d, BaseModel) else d
                                  for d in default])
            default = default.replace(json.dumps(str(SAMPLE_SOURCE)), '"<bundled sample>"')
        elif isinstance(default, BaseModel):
            default = default.model_dump_json()
        text = str(info.description).replace("|", "\\|")
        rows.append(f"| `{env}` | {describe_type(info.annotation)} | `{default}` | {text} |"
                    .replace("`None`", "none"))
    return "\n".join(rows) + "\n"


def test_docs_settings_md_lists_every_setting() -> None:
    table = reference_table()
    assert table in DOC.read_text(encoding="utf-8"), (
        f"docs/settings.md is out of date; its table should read:\n\n{table}"
    )


def test_every_variable_the_repo_mentions_is_declared() -> None:
    declared = set(declared_variables()) | {"SNAPSEARCH", "SNAPSEARCH_GATE"}  # the prefixes
    files = subprocess.run(["git", "ls-files", "*.py", "*.md", "Makefile", ".ci/*"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    unknown = {
        (f, m) for f in files if (REPO / f).is_file() and not f.startswith("tests/")
        for m in _ENV.findall((REPO / f).read_text(encoding="utf-8")) if m not in declared
    }
    assert unknown == set()


def test_query_threads_resolve_to_what_the_server_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from snapsearch.settings import ServeSettings

    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert ServeSettings().encoder_threads() == 2  # one process, cores to spare
    assert ServeSettings(workers=4).encoder_threads() == 1  # a process per core
    assert ServeSettings(workers=4, query_threads=3).encoder_threads() == 3
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert ServeSettings().encoder_threads() == 1
