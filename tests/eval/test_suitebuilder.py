"""The suite builder: needs + parts -> suite lines, and `python -m eval suites [--check]`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eval import suitebuilder
from eval.__main__ import app
from eval.needs import load_needs, matches, parse_need
from eval.suitebuilder import (
    DEFAULT_FULL_PARTS,
    Parts,
    SuiteBuildError,
    SuiteSpec,
    build_line,
    build_suite,
    read_records,
    suite_specs,
)

R = "attributes_numeric.Resistance.resistance"


def part(lcsc: str, package: str, ohms: float) -> dict[str, Any]:
    return {
        "lcsc": lcsc,
        "mfr_part": f"R-{lcsc}",
        "description": "",
        "category": "Resistors",
        "subcategory": "Chip Resistor - Surface Mount",
        "package": package,
        "attributes": {},
        "attributes_numeric": {"Resistance": {"resistance": {"value": ohms, "unit": "resistance"}}},
    }


PARTS = [part("C10", "0402", 1e4), part("C9", "0402", 1e4), part("C100", "0603", 1e3)]


def need(kind: str = "parametric", **kw: Any) -> Any:
    return parse_need({"id": "n", "kind": kind, "query": "q", **kw})


# --- one line ---------------------------------------------------------------------------------


def test_line_lists_the_answer_set_in_lcsc_number_order() -> None:
    line, n = build_line(need(where={"package": {"eq": "0402"}}), PARTS, 60, strict=True)
    assert n == 2
    assert line == {"id": "n", "kind": "parametric", "query": "q",
                    "constraints": {"package": {"eq": "0402"}}, "expected": ["C9", "C10"]}
    assert list(line) == ["id", "kind", "query", "constraints", "expected"]


def test_line_writes_filters_then_constraints_with_the_filters_translated() -> None:
    line, _ = build_line(
        need("filtered", filters={"package": "0603"}, where={R: {"eq": 1e3}}), PARTS, 60, True
    )
    assert list(line) == ["id", "kind", "query", "filters", "constraints", "expected"]
    assert line["constraints"] == {R: {"eq": 1e3}, "package": {"eq": "0603"}}
    assert line["expected"] == ["C100"]


def test_exact_kinds_need_no_constraints() -> None:
    line, n = build_line(parse_need({"id": "m", "kind": "mpn", "query": "R-C9"}), PARTS, 60, True)
    assert (line, n) == ({"id": "m", "kind": "mpn", "query": "R-C9", "expected": ["C9"]}, 1)


def test_unsatisfiable_need_is_written_without_expected() -> None:
    line, n = build_line(need("unsatisfiable", where={R: {"min": 1e9}}), PARTS, 60, True)
    assert n == 0 and "expected" not in line and line["constraints"] == {R: {"min": 1e9}}
    with pytest.raises(SuiteBuildError, match="n: meant to be unsatisfiable"):
        build_line(need("unsatisfiable", where={R: {"min": 1}}), PARTS, 60, True)


def test_need_that_matches_nothing_stops_the_build() -> None:
    with pytest.raises(SuiteBuildError, match="n: no record satisfies its constraints"):
        build_line(need(where={"package": {"eq": "1206"}}), PARTS, 60, True)
    with pytest.raises(SuiteBuildError, match="n: no record matches 'q'"):
        build_line(need(where={"package": {"eq": "0402"}}, text=["capacitor"]), PARTS, 60, True)


def test_large_answer_set_is_left_to_the_constraints_or_stops_the_build() -> None:
    wide = need(where={"category": {"eq": "Resistors"}})
    with pytest.raises(SuiteBuildError, match=r"n: 3 matches \(> 2\); narrow the need"):
        build_line(wide, PARTS, 2, strict=True)
    line, n = build_line(wide, PARTS, 2, strict=False)
    assert n == 3 and "expected" not in line and "constraints" in line
    with pytest.raises(SuiteBuildError, match="narrow the need"):
        build_line(need(text=["R-C"]), PARTS, 2, strict=False)


def test_candidates_hold_every_match_of_every_sample_need() -> None:
    """Grouping by field value is for speed only: it finds what checking every record finds."""
    spec = suite_specs()[0]
    records = read_records(spec.parts)
    records.append({**records[0], "lcsc": "C0", "package": None, "category": 7})
    parts = Parts(records)
    for n in load_needs(spec.needs_path):
        brute_force = sorted(r["lcsc"] for r in records if matches(n, r))
        assert brute_force, n.id
        assert sorted(r["lcsc"] for r in parts.candidates(n) if matches(n, r)) == brute_force, n.id


# --- a whole suite ----------------------------------------------------------------------------


def test_build_suite_is_deterministic_and_knows_when_the_file_is_current(tmp_path: Path) -> None:
    (tmp_path / "needs").mkdir()
    needs = [
        {"id": "lcsc-C100", "kind": "lcsc", "query": "C100"},
        {"id": "r-0402", "kind": "parametric", "query": "0402 resistor µ",
         "where": {"package": {"eq": "0402"}}},
    ]
    (tmp_path / "needs" / "tiny.jsonl").write_text(
        "".join(json.dumps(n) + "\n" for n in needs), encoding="utf-8"
    )
    spec = SuiteSpec("tiny", tmp_path / "parts.jsonl", 60, strict=True, directory=tmp_path)
    spec.parts.write_text("".join(json.dumps(p) + "\n" for p in PARTS), encoding="utf-8")
    reported: list[str] = []
    built = build_suite(spec, report=reported.append)
    assert built.text == (
        '{"id": "lcsc-C100", "kind": "lcsc", "query": "C100", "expected": ["C100"]}\n'
        '{"id": "r-0402", "kind": "parametric", "query": "0402 resistor µ", '
        '"constraints": {"package": {"eq": "0402"}}, "expected": ["C9", "C10"]}\n'
    )
    assert built.kinds() == {"lcsc": 1, "parametric": 1}
    assert len(reported) == 2 and "r-0402: 0402 resistor µ" in reported[1]
    assert not built.is_current()
    built.write()
    assert built.is_current()
    assert build_suite(spec) == built


# --- the command ------------------------------------------------------------------------------

runner = CliRunner()


def test_committed_sample_suite_is_what_the_builder_writes() -> None:
    result = runner.invoke(app, ["suites", "--check", "--only", "parts-sample"])
    assert result.exit_code == 0, result.output
    assert "parts-sample.jsonl: {'lcsc': 15, 'mpn': 16, 'natural': 14, 'parametric': 33}" in (
        result.stdout
    )


@pytest.mark.skipif(
    not DEFAULT_FULL_PARTS.is_file(),
    reason=f"the 25k parts file is not here ({DEFAULT_FULL_PARTS}), so parts-25k.jsonl "
    "cannot be rebuilt to compare",
)
def test_committed_25k_suite_is_what_the_builder_writes() -> None:
    result = runner.invoke(
        app, ["suites", "--check", "--only", "parts-25k", "--full", str(DEFAULT_FULL_PARTS)]
    )
    assert result.exit_code == 0, result.output
    assert "parts-25k.jsonl: {'filtered': 28, 'lcsc': 27, 'misspelled': 17," in result.stdout


def test_check_names_the_suites_that_would_change_and_writing_fixes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = suite_specs()[0]
    shutil.copytree(real.needs_path.parent, tmp_path / "needs")
    committed = real.out_path.read_bytes()
    (tmp_path / "parts-sample.jsonl").write_bytes(committed.replace(b'"C25744"', b'"C1"', 1))
    monkeypatch.setattr(suitebuilder, "SUITES_DIR", tmp_path)

    result = runner.invoke(app, ["suites", "--check", "--only", "parts-sample"])
    assert result.exit_code == 1
    assert "out of date: parts-sample.jsonl" in result.stderr

    result = runner.invoke(app, ["suites", "--only", "parts-sample", "--report"])
    assert result.exit_code == 0, result.output
    assert "lcsc-C25744: C25744" in result.stdout  # --report: one line per need
    assert (tmp_path / "parts-sample.jsonl").read_bytes() == committed
    assert runner.invoke(app, ["suites", "--check", "--only", "parts-sample"]).exit_code == 0


def test_command_errors_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["suites", "--check", "--only", "parts-3k"])
    assert result.exit_code == 2
    assert "--only 'parts-3k': no such suite; expected one of parts-sample, parts-25k" in (
        result.stderr
    )
    missing = tmp_path / "nowhere.jsonl"
    result = runner.invoke(app, ["suites", "--check", "--full", str(missing)])
    assert result.exit_code == 2
    assert f"{missing} (the parts file of parts-25k) does not exist" in result.stderr

    (tmp_path / "needs").mkdir()
    (tmp_path / "needs" / "parts-sample.jsonl").write_text(
        '{"id": "x", "kind": "natural", "query": "no such part", "text": ["^zzzz$"]}\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(suitebuilder, "SUITES_DIR", tmp_path)
    result = runner.invoke(app, ["suites", "--only", "parts-sample"])
    assert result.exit_code == 2
    assert "error: parts-sample: x: no record matches 'no such part'" in result.stderr
    assert not (tmp_path / "parts-sample.jsonl").exists()
