"""The query-suite format: loading, validation, and the committed suites."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from eval.compliance import record_satisfies
from eval.suite import SuiteQuery, load_suite

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PARTS = REPO / "data" / "sample" / "parts-3k.jsonl.gz"
SAMPLE_SUITE = REPO / "eval" / "suites" / "parts-sample.jsonl"
FULL_SUITE = REPO / "eval" / "suites" / "parts-25k.jsonl"
FULL_PARTS = REPO.parent / "shared" / "data" / "jlcpcb_parts" / "parts.jsonl"

R = "attributes_numeric.Resistance.resistance"

def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "suite.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- loading ----------------------------------------------------------------------------------


def test_load_good_suite(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        json.dumps({"id": "q1", "kind": "lcsc", "query": "C25744", "expected": ["C25744"]}),
        "",
        json.dumps(
            {
                "query": "resistor",
                "kind": "filtered",
                "filters": {
                    "package": "0402",
                    "library_type": "Basic",
                    "in_stock": True,
                    "stock_min": 10,
                    "numeric": [{"attribute": "Resistance", "key": "resistance", "min": 1e3}],
                },
                "constraints": {
                    "package": {"eq": "0402"},
                    "subcategory": {"in": ["Chip Resistor - Surface Mount"]},
                    R: {"min": 1e3, "max": 1e5},
                    "attributes.Tolerance": {"eq": "±1%"},
                    "stock": {"min": 1},
                },
            }
        ),
    )
    first, second = load_suite(path)
    assert first == SuiteQuery(id="q1", query="C25744", expected=("C25744",), kind="lcsc")
    assert first.gains() == {"C25744": 1.0}
    assert second.id == "line-3"  # no id: named after its line (blank lines still count)
    assert second.expected is None and second.gains() == {}
    assert second.filters is not None and second.filters["package"] == "0402"
    assert second.constraints is not None and R in second.constraints
    assert hash(first) == hash(
        SuiteQuery(id="q1", query="C25744", expected=("C25744",), kind="lcsc")
    )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"query": "x",', "invalid JSON"),
        ('["query"]', "JSON object"),
        ('{"kind": "mpn"}', "query: missing"),
        ('{"query": "  "}', "query:"),
        ('{"query": 3}', "query:"),
        ('{"query": "x", "expectd": ["C1"]}', "expectd: unknown key"),
        ('{"query": "x", "expected": "C1"}', "expected:"),
        ('{"query": "x", "expected": ["C1", "C1"]}', "expected: has duplicate"),
        ('{"query": "x", "kind": ""}', "kind:"),
        ('{"query": "x", "id": 7}', "id:"),
        ('{"query": "x", "filters": {"pkg": "0402"}}', "filters.pkg: unknown key"),
        ('{"query": "x", "filters": {"in_stock": "yes"}}', "filters.in_stock"),
        ('{"query": "x", "filters": {"stock_min": -1}}', "filters.stock_min"),
        ('{"query": "x", "filters": {"library_type": "basic"}}', "filters.library_type"),
        ('{"query": "x", "filters": {"numeric": [{"attribute": "R"}]}}', "filters.numeric[0].key"),
        (
            '{"query": "x", "filters": {"numeric": [{"attribute": "R", "key": "r"}]}}',
            "filters.numeric[0]: needs min",
        ),
        ('{"query": "x", "constraints": {}}', "constraints: must be a non-empty"),
        ('{"query": "x", "constraints": {"colour": {"eq": "red"}}}', "constraints.colour"),
        ('{"query": "x", "constraints": {"package": "0402"}}', "constraints.package"),
        ('{"query": "x", "constraints": {"package": {"min": 1}}}', "constraints.package"),
        ('{"query": "x", "constraints": {"package": {"eq": 402}}}', "constraints.package"),
        ('{"query": "x", "constraints": {"stock": {"eq": "many"}}}', "constraints.stock"),
        ('{"query": "x", "constraints": {"stock": {"min": 5, "max": 1}}}', "constraints.stock"),
        ('{"query": "x", "constraints": {"stock": {"gt": 5}}}', "constraints.stock"),
        (
            '{"query": "x", "constraints": {"attributes_numeric.Resistance": {"min": 1}}}',
            "constraints.attributes_numeric.Resistance",
        ),
        (
            '{"query": "x", "constraints": {"attributes.Tolerance": {"max": 1}}}',
            "constraints.attributes.Tolerance",
        ),
        ('{"query": "x", "constraints": {"subcategory": {"in": []}}}', "constraints.subcategory"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    path = write_lines(tmp_path, '{"query": "fine"}', line)
    with pytest.raises(ValueError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert field in message


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path, '{"id": "a", "query": "x"}', '{"id": "a", "query": "y"}')
    with pytest.raises(ValueError, match=r":2: id: 'a' already used on line 1"):
        load_suite(path)


# --- the committed suites ---------------------------------------------------------------------


def read_parts(path: Path) -> dict[str, dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return {r["lcsc"]: r for r in map(json.loads, fh)}


@pytest.fixture(scope="module")
def sample_parts() -> dict[str, dict[str, Any]]:
    return read_parts(SAMPLE_PARTS)


def check_suite_against(queries: list[SuiteQuery], parts: dict[str, dict[str, Any]]) -> None:
    for q in queries:
        missing = set(q.expected or ()) - parts.keys()
        assert not missing, f"{q.id}: expected ids not in the parts file: {sorted(missing)}"
        if q.constraints is None:
            continue
        satisfiable = any(record_satisfies(r, q.constraints) for r in parts.values())
        if q.kind == "unsatisfiable":
            assert not satisfiable, q.id
            continue
        assert satisfiable, f"{q.id}: no part satisfies its constraints"
        for part in q.expected or ():
            assert record_satisfies(parts[part], q.constraints), f"{q.id}: {part} not compliant"


def test_committed_sample_suite(sample_parts: dict[str, dict[str, Any]]) -> None:
    queries = load_suite(SAMPLE_SUITE)
    assert len(queries) >= 50
    assert all(q.expected and q.kind for q in queries)
    assert all(len(q.expected or ()) <= 60 for q in queries)
    check_suite_against(queries, sample_parts)


def test_committed_25k_suite_is_well_formed() -> None:
    queries = load_suite(FULL_SUITE)
    kinds = {q.kind for q in queries}
    assert {"lcsc", "mpn", "parametric", "filtered", "natural", "misspelled"} <= kinds
    assert len(queries) >= 160
    assert all(q.expected or q.constraints for q in queries)
    assert all(q.filters for q in queries if q.kind == "filtered")


@pytest.mark.skipif(not FULL_PARTS.exists(), reason="the 25k parts file is not checked out")
def test_committed_25k_suite_against_the_data() -> None:
    check_suite_against(load_suite(FULL_SUITE), read_parts(FULL_PARTS))
