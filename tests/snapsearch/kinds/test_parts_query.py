"""Catalogue query understanding: LCSC ids, values with units, packages, MPN candidates."""

from __future__ import annotations

import pytest

from snapsearch.kinds.parts.grammar import (
    Value,
    normalise_package,
    package_matches,
    parse_value,
)
from snapsearch.kinds.parts.query import parse_query

# -- LCSC ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("C25744", ["C25744"]),
        ("c25744", ["C25744"]),
        ("stock of C25744 and C6186", ["C25744", "C6186"]),
        ("10k 0402 resistor", []),  # never part C402: an id needs its leading C
        ("0402", []),
        ("AC25744", []),  # inside a word
        ("C25744X", []),
        ("C1.5", []),
    ],
)
def test_lcsc_ids_need_their_leading_c(text: str, ids: list[str]) -> None:
    assert parse_query(text).lcsc_ids == ids


def test_lcsc_id_before_a_full_stop() -> None:
    assert parse_query("price of C25744.").lcsc_ids == ["C25744"]


def test_resistor_query_parses_value_and_package_not_an_id() -> None:
    parsed = parse_query("10k 0402 resistor")

    assert parsed.lcsc_ids == []
    assert parsed.values == [Value("10k", "resistance", 1e4)]
    assert parsed.packages == ["0402"]
    assert parsed.mpn_candidates == []


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "context", "unit", "value"),
    [
        ("10k", "resistance", "resistance", 1e4),
        ("10k", None, "resistance", 1e4),  # k without context: ohms
        ("10k", "frequency", "frequency", 1e4),
        ("4k7", None, "resistance", 4700.0),
        ("2R2", None, "resistance", 2.2),
        ("1M", None, "resistance", 1e6),
        ("10Ω", None, "resistance", 10.0),
        ("10ohm", None, "resistance", 10.0),
        ("100nF", None, "capacitance", 100e-9),
        ("4.7uF", None, "capacitance", 4.7e-6),
        ("22pF", None, "capacitance", 22e-12),
        ("10u", "inductance", "inductance", 10e-6),  # unit from the context word
        ("10uH", None, "inductance", 10e-6),
        ("3.3V", None, "voltage", 3.3),
        ("12MHz", None, "frequency", 12e6),
        ("12mhz", None, "frequency", 12e6),  # lower-case m before Hz still means mega
        ("1A", None, "current", 1.0),
        ("100mA", None, "current", 0.1),
        ("0.25W", None, "power", 0.25),
        ("1%", None, "percent", 1.0),  # a tolerance
        ("±0.5%", None, "percent", 0.5),
    ],
)
def test_parse_value(token: str, context: str | None, unit: str, value: float) -> None:
    v = parse_value(token, context)

    assert v is not None
    assert (v.text, v.unit) == (token, unit)
    assert v.value == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize(
    ("token", "context"),
    [
        ("100", None),  # a bare number: pin count, package code...
        ("0402", None),
        ("1m", "resistance"),  # milli- or mega-ohm: ambiguous
        ("V", None),
        ("abc", None),
    ],
)
def test_not_a_value(token: str, context: str | None) -> None:
    assert parse_value(token, context) is None


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("10k resistor", [("resistance", 1e4)]),
        ("10k crystal", [("frequency", 1e4)]),
        ("10u inductor", [("inductance", 10e-6)]),
        ("0603 10uF 25V capacitor", [("capacitance", 10e-6), ("voltage", 25.0)]),
        ("10k 1% resistor", [("resistance", 1e4), ("percent", 1.0)]),
        ("LM358 8 pin", [("count", 8.0)]),  # a pin count
        ("LM358 8", []),  # bare numbers are not values
        ("100 ohm 0603 resistor", [("resistance", 100.0)]),  # unit apart from its number
        ("0.1 ohm shunt", [("resistance", 0.1)]),
        ("3.3 V LDO 500 mA", [("voltage", 3.3), ("current", 0.5)]),
        ("22 pF", [("capacitance", 22e-12)]),
        ("2x5 pin header 2.54mm", [("grid", 2005.0)]),  # rows x columns, not 10 pins
    ],
)
def test_values_in_a_query(text: str, values: list[tuple[str, float]]) -> None:
    got = [(v.unit, v.value) for v in parse_query(text).values]

    assert got == [(u, pytest.approx(x, rel=1e-9)) for u, x in values]


# -- packages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "packages"),
    [
        ("0402", ["0402"]),
        ("10k 0603 resistor", ["0603"]),
        ("SOT-23", ["SOT-23"]),
        ("sot-23 mosfet", ["SOT-23"]),
        ("SOT-23-5", ["SOT-23-5"]),
        ("SOIC-8", ["SOIC-8"]),
        ("QFN", ["QFN"]),
        ("TO-220", ["TO-220"]),
        ("402 resistor", []),  # not a chip size
        ("1234", []),
    ],
)
def test_packages(text: str, packages: list[str]) -> None:
    assert parse_query(text).packages == packages


def test_the_word_to_is_not_a_package() -> None:
    assert parse_query("5V to 3.3V regulator").packages == []


@pytest.mark.parametrize(
    ("text", "normalised"),
    [("sot-23", "SOT-23"), (" 0402 ", "0402"), ("LQFP-48 (7x7)", "LQFP-48(7X7)")],
)
def test_normalise_package(text: str, normalised: str) -> None:
    assert normalise_package(text) == normalised


# -- MPN candidates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mpns"),
    [
        ("STM32F103C8T6 microcontroller", ["STM32F103C8T6"]),
        ("lm358 op amp", ["LM358"]),  # upper-cased
        ("AMS1117-3.3 regulator", ["AMS1117-3.3"]),
        ("ab12 part", ["AB12"]),  # 4 characters is enough
        ("a12 op amp", []),  # 3 is not
        ("usb uart bridge", []),  # no digits
        ("10k 0402 resistor", []),  # values and packages are not MPNs
        ("C25744 resistor", []),  # an LCSC id is not an MPN
    ],
)
def test_mpn_candidates(text: str, mpns: list[str]) -> None:
    assert parse_query(text).mpn_candidates == mpns


@pytest.mark.parametrize(
    ("text", "mpn"),
    [("regulator", "REGULATOR"), ("LM358", "LM358"), (" ne555 ", "NE555"), ("4k7", "4K7")],
)
def test_a_single_word_query_is_an_mpn_candidate(text: str, mpn: str) -> None:
    assert mpn in parse_query(text).mpn_candidates


def test_a_very_short_single_word_is_not_an_mpn_candidate() -> None:
    assert parse_query("ab").mpn_candidates == []


# -- ratings and package matching ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "attribute", "unit", "number", "weight"),
    [
        # a higher rating
        (Value("25V", "voltage", 25.0), "Allowable voltage", "voltage", 50.0, 0.5),
        (Value("25V", "voltage", 25.0), "Allowable voltage", "voltage", 16.0, 0.0),
        (Value("25V", "voltage", 25.0), "Output voltage", "voltage", 50.0, 0.0),  # not a rating
        (Value("25V", "voltage", 25.0), "Output voltage", "voltage", 25.0, 1.0),  # equal
        (Value("25V", "voltage", 25.0), "Allowable voltage", "voltage", 25.0, 1.0),
        (Value("3A", "current", 3.0), "Rated current", "current", 3.5, 0.5),
        # "3A inductor": rated
        (Value("3A", "current", 3.0), "Saturation current (isat)", "current", 4.0, 0.0),
        (Value("10k", "resistance", 1e4), "Resistance", "resistance", 2e4, 0.0),  # not rated
        (Value("10k", "resistance", 1e4), "Resistance", "resistance", 1e4, 1.0),
        (Value("10k", "resistance", 1e4), "Impedance", "capacitance", 1e4, 0.0),  # other unit
        (Value("1%", "percent", 1.0), "Tolerance", "percent", 1.0, 1.0),
        (Value("1%", "percent", 1.0), "Tolerance", "percent", 5.0, 0.0),
    ],
)
def test_value_match_weight(
    value: Value, attribute: str, unit: str, number: float, weight: float
) -> None:
    assert value.match(attribute, unit, number) == weight


@pytest.mark.parametrize(
    ("query", "record", "matches"),
    [
        ("0402", "0402", True),
        ("0402", "0603", False),
        ("SOT-23", "SOT-23", True),
        ("SOT-23", "SOT23", True),
        ("SOT-23", "SOT-23(TO-236)", True),  # an alias in parentheses
        ("SOT-23", "SOT-23-5", False),  # another pin count
        ("SOD-123", "SOD-123FL", False),  # another package
        ("SOP-8", "SOP-8-150mil", True),  # a body width
        ("3225", "SMD3225-4P", True),  # a crystal size code inside the name
        ("QFN", "QFN-32-EP(5x5)", True),  # a family without a size
        ("QFN", "DFN-8", False),
        ("SOIC-8", "", False),
    ],
)
def test_package_matches(query: str, record: str, matches: bool) -> None:
    assert package_matches(query, record) is matches
