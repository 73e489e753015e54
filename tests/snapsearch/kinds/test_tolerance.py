"""Tolerance windows: the parts grammar reads a tolerance, and the parts kind writes the window
of each toleranced value as two more numeric rows (``<key>@min`` / ``<key>@max``)."""

from __future__ import annotations

import pytest

from snapsearch.kinds import get_kind
from snapsearch.kinds.lookup import WINDOW_MAX, WINDOW_MIN
from snapsearch.kinds.parts.grammar import tolerance_window
from tests.multistore import sample_parts


@pytest.mark.parametrize(("text", "value", "unit", "window"), [
    ("±5%", 10000.0, "resistance", (9500.0, 10500.0)),
    ("±1%", 10000.0, "resistance", (9900.0, 10100.0)),
    ("0.1%", 1000.0, "resistance", (999.0, 1001.0)),
    ("-20%~+80%", 1e-6, "capacitance", (0.8e-6, 1.8e-6)),
    ("-10%~+20%", 100.0, "inductance", (90.0, 120.0)),
    ("±0.25pF", 10e-12, "capacitance", (9.75e-12, 10.25e-12)),
    ("±0.25pF", 100.0, "resistance", None),  # a tolerance in another unit
    ("±1℃", 25.0, "resistance", None),
    ("-", 1.0, "resistance", None),
    ("+20%~-10%", 1.0, "resistance", None),
])
def test_tolerance_window(text: str, value: float, unit: str,
                          window: tuple[float, float] | None) -> None:
    got = tolerance_window(text, value, unit)
    if window is None:
        assert got is None
    else:
        assert got == pytest.approx(window)


def test_the_parts_kind_writes_windows_of_toleranced_values() -> None:
    parts = {r["lcsc"]: r for r in sample_parts()}
    kind = get_kind("parts")
    row = kind.to_row(parts["C25725"])  # 10 kΩ ±5 %
    windows = {(a, k, u): v for a, k, u, v in row.numeric if k.endswith((WINDOW_MIN, WINDOW_MAX))}
    assert windows == pytest.approx({
        ("Resistance", "resistance" + WINDOW_MIN, "resistance" + WINDOW_MIN): 9500.0,
        ("Resistance", "resistance" + WINDOW_MAX, "resistance" + WINDOW_MAX): 10500.0,
    })
    bead = kind.to_row(parts["C1002"])  # ferrite bead: 600 Ω ±25 % impedance
    keys = {(a, k) for a, k, _u, _v in bead.numeric if k.endswith(WINDOW_MIN)}
    assert keys == {("Impedance @ frequency", "esr" + WINDOW_MIN)}  # not its DC resistance
    assert row.summary["status"] == "Active"


def test_records_without_a_tolerance_get_no_window() -> None:
    parts = sample_parts()
    kind = get_kind("parts")
    for raw in parts[:100]:
        row = kind.to_row(raw)
        if "Tolerance" not in raw["attributes"]:
            assert not [k for _a, k, _u, _v in row.numeric if "@" in k], raw["lcsc"]
