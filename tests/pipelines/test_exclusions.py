"""Build exclusion rules: excluded records are not indexed, counted by rule in the manifest and
the gate report (never silently); the rules are an input of the build; the settings read them
from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.transform.build import BuildOptions, build_options
from pipelines.transform.exclusions import apply_exclusions
from pipelines.validate.gates import run_gates
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import get_kind
from snapsearch.search.exclusion import parse_rules
from snapsearch.settings import PipelineSettings, SettingsError, load_settings
from tests.multistore import NOTES, build_two, sample_parts, sources

RULES = [
    {"name": "extended", "field": "library_type", "equals": "Extended"},
    {"name": "low-stock", "field": "stock", "below": 1000},
    {"name": "obsolete", "field": "status", "equals": "Obsolete"},
    {"name": "licence", "field": "licence", "in": ["non-commercial", "proprietary"]},
]


def test_apply_exclusions_counts_every_rule() -> None:
    kind = get_kind("parts")
    raw = sample_parts()[:50]
    raw[0] = {**raw[0], "status": "Obsolete", "library_type": "Basic", "stock": 10**6}
    rows = [kind.to_row(r) for r in raw]
    kept, counts = apply_exclusions(rows, parse_rules(RULES, source="build"))
    assert set(counts) == {"extended", "low-stock", "obsolete", "licence"}
    assert counts["obsolete"] == 1 and counts["licence"] == 0
    assert len(kept) + sum(counts.values()) == 50
    assert all(r.filters["library_type"] != "Extended" and r.filters["stock"] >= 1000
               for r in kept)


def test_excluded_records_are_not_indexed_and_are_counted(tmp_path: Path) -> None:
    rules = tuple(parse_rules(RULES, source="build"))
    result = build_two(tmp_path / "store", *sources(tmp_path),
                       options=BuildOptions(exclusions=rules))
    m = result.manifest
    assert m.exclusions is not None and m.exclusions.rules == [r.describe() for r in rules]
    excluded = m.exclusions.excluded
    assert excluded["notes"] == {"extended": 0, "low-stock": 0, "obsolete": 0, "licence": 2}
    assert excluded["parts"]["extended"] > 0 and excluded["parts"]["licence"] == 0
    total = len(sample_parts())
    assert m.collections["parts"].records == total - sum(excluded["parts"].values())
    assert m.collections["notes"].records == len(NOTES) - 2
    with open_snapshot(result.path) as snap:
        col = snap.collections["parts"]
        kinds = {r[0] for r in col.conn.execute(f"SELECT library_type FROM {col.lookup}")}
        assert "Extended" not in kinds
        assert snap.collections["notes"].detail("n5") is None  # non-commercial: not indexed
        report = run_gates(result.path, HashingEncoder(64), PipelineSettings().gates,
                           suite_path=None)
    gate = report.gates["exclusions"]
    assert gate.passed and gate.metrics["excluded.notes.licence"] == 2
    assert gate.metrics["excluded"] == sum(sum(v.values()) for v in excluded.values())
    assert "not indexed" in gate.description


def test_no_rules_no_exclusion_gate_figures(built) -> None:  # type: ignore[no-untyped-def]
    report = run_gates(built.path, HashingEncoder(64), PipelineSettings().gates, suite_path=None)
    assert report.gates["exclusions"].passed
    assert report.gates["exclusions"].metrics == {"excluded": 0, "rules": 0}


def test_rules_come_from_a_settings_file_and_are_an_input(tmp_path: Path) -> None:
    f = tmp_path / "rules.json"
    f.write_text(json.dumps(RULES))
    s = PipelineSettings(exclusions=f)
    opts = build_options(s)
    assert [r.name for r in opts.exclusions] == [r["name"] for r in RULES]
    assert s.build_fingerprint()["exclusions"][0] == RULES[0]
    assert "exclusions" not in PipelineSettings().build_fingerprint()
    a = build_two(tmp_path / "a", *sources(tmp_path))
    b = build_two(tmp_path / "b", *sources(tmp_path), options=opts)
    assert a.manifest.inputs_digest != b.manifest.inputs_digest


def test_a_bad_rules_file_names_the_variable(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "rules.json"
    f.write_text(json.dumps([{"field": "stock"}]))
    monkeypatch.setenv("SNAPSEARCH_EXCLUSIONS", str(f))
    with pytest.raises(SettingsError, match="SNAPSEARCH_EXCLUSIONS.*exactly one"):
        load_settings(PipelineSettings)


def test_collection_weights_are_recorded(tmp_path: Path) -> None:
    result = build_two(tmp_path / "s", *sources(tmp_path),
                       options=BuildOptions(collection_weights={"notes": 0.5}))
    assert result.manifest.collection_weights == {"notes": 0.5}
    with pytest.raises(ValueError, match="not a configured collection"):
        PipelineSettings(collection_weights={"nope": 1.0})
    with pytest.raises(ValueError, match="0 to 10"):
        PipelineSettings(collection_weights={"parts": 11.0})
