"""Judging records: constraint checks, the filters check and compliance."""

from __future__ import annotations

from typing import Any

import pytest

from eval.compliance import compliance, count_satisfying, filters_satisfied, record_satisfies

R = "attributes_numeric.Resistance.resistance"

# A 10 kΩ 0402 resistor in the raw parts-file format (trimmed).
RESISTOR: dict[str, Any] = {
    "lcsc": "C25744",
    "mfr_part": "0402WGF1002TCE",
    "category": "Resistors",
    "subcategory": "Chip Resistor - Surface Mount",
    "package": "0402",
    "library_type": "Basic",
    "stock": 1200,
    "attributes": {"Resistance": "10kΩ", "Tolerance": "±1%"},
    "attributes_numeric": {
        "Resistance": {"resistance": {"value": 10000.0, "unit": "resistance"}},
        "Power": {"power": {"value": 0.0625, "unit": "power"}},
        "Rds(on) @ Vgs, Id": {"Rds": {"value": None, "unit": "resistance"}},
    },
}


# --- record_satisfies -------------------------------------------------------------------------


def test_eq_on_strings_ignores_case_and_whitespace() -> None:
    assert record_satisfies(RESISTOR, {"package": {"eq": " 0402 "}})
    assert record_satisfies(RESISTOR, {"subcategory": {"eq": "chip resistor - surface mount"}})
    assert record_satisfies(RESISTOR, {"library_type": {"in": ["Preferred", "basic"]}})
    assert not record_satisfies(RESISTOR, {"package": {"eq": "0603"}})
    assert not record_satisfies(RESISTOR, {"package": {"in": ["0603", "0805"]}})


def test_min_max_inclusive_with_relative_tolerance() -> None:
    assert record_satisfies(RESISTOR, {R: {"min": 10000, "max": 10000}})
    assert record_satisfies(RESISTOR, {R: {"eq": 10000.005}})  # within 1e-6 relative
    assert record_satisfies(RESISTOR, {R: {"min": 10000.009}})
    assert not record_satisfies(RESISTOR, {R: {"min": 10000.02}})
    assert not record_satisfies(RESISTOR, {R: {"max": 9999.98}})
    assert record_satisfies(RESISTOR, {"stock": {"min": 1200, "max": 1200}})
    assert not record_satisfies(RESISTOR, {"stock": {"min": 1201}})


def test_nested_attribute_paths_and_every_constraint_must_hold() -> None:
    assert record_satisfies(
        RESISTOR,
        {
            R: {"eq": 1e4},
            "attributes_numeric.Power.power": {"min": 0.0625},
            "attributes.Tolerance": {"eq": "±1%"},
            "package": {"eq": "0402"},
        },
    )
    assert not record_satisfies(RESISTOR, {R: {"eq": 1e4}, "package": {"eq": "0603"}})
    # an attribute name that itself contains commas and spaces; the key is after the last dot
    assert not record_satisfies(RESISTOR, {"attributes_numeric.Rds(on) @ Vgs, Id.Rds": {"max": 1}})


def test_missing_attribute_or_null_value_never_satisfies() -> None:
    assert not record_satisfies(
        RESISTOR, {"attributes_numeric.Capacitance.capacitance": {"min": 0}}
    )
    assert not record_satisfies(RESISTOR, {"attributes_numeric.Resistance.ohms": {"min": 0}})
    assert not record_satisfies(RESISTOR, {"attributes_numeric.Rds(on) @ Vgs, Id.Rds": {"min": 0}})
    assert not record_satisfies(RESISTOR, {"attributes.Colour": {"eq": "red"}})
    assert not record_satisfies({**RESISTOR, "package": None}, {"package": {"eq": "0402"}})
    assert not record_satisfies({"lcsc": "C1"}, {"stock": {"min": 0}})


def test_no_constraints_is_satisfied() -> None:
    assert record_satisfies(RESISTOR, {})


# --- compliance -------------------------------------------------------------------------------

OK = RESISTOR
BAD = {**RESISTOR, "package": "0603"}
C0402 = {"package": {"eq": "0402"}}


@pytest.mark.parametrize(
    ("filters", "ok"),
    [
        ({}, True),
        ({"package": "0402", "library_type": "Basic"}, True),
        ({"package": "0603"}, False),
        ({"in_stock": True}, True),
        ({"in_stock": False}, False),
        ({"stock_min": 1200}, True),
        ({"stock_min": 1201}, False),
        ({"numeric": [{"attribute": "Resistance", "key": "resistance", "min": 9900, "max": 10100}]},
         True),
        ({"numeric": [{"attribute": "Resistance", "key": "resistance", "min": 10001}]}, False),
        ({"numeric": [{"attribute": "Rds(on) @ Vgs, Id", "key": "Rds", "min": 0}]}, False),  # null
        # a display-only attribute that reads as one value counts, as the parts kind indexes it
        ({"numeric": [{"attribute": "Tolerance", "key": "percent", "max": 1}]}, True),
        ({"numeric": [{"attribute": "Tolerance", "key": "percent", "max": 0.5}]}, False),
    ],
)
def test_filters_satisfied_as_the_engine_applies_them(filters: dict[str, Any], ok: bool) -> None:
    assert filters_satisfied(RESISTOR, filters) is ok


def test_compliance_judges_top_m_with_m_from_satisfiable_count() -> None:
    # only 3 parts in the corpus can comply, so only the top 3 are judged
    assert compliance([OK, BAD, OK, BAD, BAD], C0402, satisfiable_count=3) == pytest.approx(2 / 3)
    # m is capped at 10
    assert compliance([OK] * 9 + [BAD] * 5, C0402, satisfiable_count=500) == pytest.approx(0.9)


def test_compliance_none_when_unsatisfiable() -> None:
    assert compliance([OK, OK], C0402, satisfiable_count=0) is None
    assert compliance([], C0402, satisfiable_count=0) is None


def test_compliance_short_result_list_counts_missing_slots_as_failures() -> None:
    assert compliance([OK, OK], C0402, satisfiable_count=4) == 0.5
    assert compliance([], C0402, satisfiable_count=4) == 0.0


def test_compliance_rejects_negative_count_and_counts_satisfying() -> None:
    with pytest.raises(ValueError):
        compliance([OK], C0402, satisfiable_count=-1)
    assert count_satisfying([OK, BAD, OK], C0402) == 2
