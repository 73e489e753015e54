"""The needs format: loading, validation, the filters translated, and the matching rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.needs import Need, filters_as_constraints, load_needs, matches, parse_need, record_text

R = "attributes_numeric.Resistance.resistance"
CHIP = {"subcategory": {"eq": "Chip Resistor - Surface Mount"}}

PART: dict[str, Any] = {
    "lcsc": "C25744",
    "mfr_part": "0402WGF1002TCE",
    "description": "Thick film resistor",
    "category": "Resistors",
    "subcategory": "Chip Resistor - Surface Mount",
    "package": "0402",
    "library_type": "Basic",
    "stock": 1200,
    "attributes": {"Resistance": "10kΩ", "Tolerance": "±1%", "Emitted color": "Red"},
    "attributes_numeric": {"Resistance": {"resistance": {"value": 10000.0, "unit": "resistance"}}},
}


def write_needs(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "needs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_good_needs(tmp_path: Path) -> None:
    path = write_needs(
        tmp_path,
        json.dumps({"id": "lcsc-C25744", "kind": "lcsc", "query": "C25744"}),
        "",
        json.dumps(
            {
                "id": "f-res",
                "kind": "filtered",
                "query": "10k resistor",
                "filters": {"package": "0402", "in_stock": True},
                "where": {**CHIP, R: {"eq": 10000.0}},
                "any_of": [{"attributes.Emitted color": {"eq": "Red"}}],
                "text": ["resistor"],
                "exclude": "varistor",
                "note": "why it is written so",
            }
        ),
    )
    exact, filtered = load_needs(path)
    assert exact == Need(id="lcsc-C25744", kind="lcsc", query="C25744")
    assert exact.constraints == {}
    assert filtered.text == ("resistor",) and filtered.exclude == "varistor"
    assert filtered.note == "why it is written so"
    # the need's own conditions first, then its filters translated
    assert list(filtered.constraints.items()) == [
        ("subcategory", {"eq": "Chip Resistor - Surface Mount"}),
        (R, {"eq": 10000.0}),
        ("package", {"eq": "0402"}),
        ("stock", {"min": 1}),
    ]


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (["id"], "JSON object"),
        ({"kind": "natural", "query": "x"}, "id: missing"),
        ({"id": "a", "query": "x"}, "kind: missing"),
        ({"id": "a", "kind": "natural"}, "query: missing"),
        ({"id": "a", "kind": "natural", "query": " "}, "query:"),
        ({"id": "a", "kind": "natural", "query": "x", "expected": []}, "expected: unknown key"),
        ({"id": "a", "kind": "lcsc", "query": "C1", "where": CHIP}, "where: a need of kind"),
        ({"id": "a", "kind": "mpn", "query": "X", "text": ["X"]}, "text: a need of kind"),
        ({"id": "a", "kind": "natural", "query": "x", "where": {}}, "where: must be"),
        ({"id": "a", "kind": "natural", "query": "x", "where": {"colour": {"eq": "red"}}},
         "where.colour: unknown field"),
        ({"id": "a", "kind": "natural", "query": "x", "filters": {"pkg": "0402"}},
         "filters.pkg: unknown key"),
        ({"id": "a", "kind": "natural", "query": "x", "any_of": []}, "any_of: must be"),
        ({"id": "a", "kind": "natural", "query": "x", "any_of": [{"package": "0402"}]},
         "any_of[0].package:"),
        ({"id": "a", "kind": "natural", "query": "x", "text": "resistor"}, "text: must be"),
        ({"id": "a", "kind": "natural", "query": "x", "text": ["ok", "("]}, "text[1]: not a regex"),
        ({"id": "a", "kind": "natural", "query": "x", "exclude": ""}, "exclude:"),
        ({"id": "a", "kind": "natural", "query": "x", "note": 3}, "note:"),
    ],
)
def test_malformed_need_names_file_line_and_key(tmp_path: Path, obj: object, field: str) -> None:
    good = json.dumps({"id": "fine", "kind": "natural", "query": "fine"})
    path = write_needs(tmp_path, good, json.dumps(obj))
    with pytest.raises(ValueError) as info:
        load_needs(path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert field in message


def test_invalid_json_and_duplicate_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r":1: invalid JSON"):
        load_needs(write_needs(tmp_path, '{"id": "a",'))
    line = json.dumps({"id": "a", "kind": "natural", "query": "x"})
    with pytest.raises(ValueError, match=r":2: id: 'a' already used on line 1"):
        load_needs(write_needs(tmp_path, line, line))


def test_filters_as_constraints() -> None:
    assert filters_as_constraints({"manufacturer": "Yageo", "in_stock": False}) == {}
    assert filters_as_constraints({"in_stock": True, "stock_min": 50}) == {"stock": {"min": 50}}
    assert filters_as_constraints({"stock_min": 0, "in_stock": True}) == {"stock": {"min": 1}}
    assert filters_as_constraints(
        {
            "library_type": "Basic",
            "category": "Resistors",
            "numeric": [
                {"attribute": "Resistance", "key": "resistance", "min": 1e3},
                {"attribute": "Power", "key": "power", "min": 0.1, "max": 0.5},
            ],
        }
    ) == {
        "category": {"eq": "Resistors"},
        "library_type": {"eq": "Basic"},
        R: {"min": 1e3},
        "attributes_numeric.Power.power": {"min": 0.1, "max": 0.5},
    }


def need(**kw: Any) -> Need:
    return parse_need({"id": "n", "kind": "natural", "query": "q", **kw})


def test_exact_kinds_match_the_id_or_the_part_number() -> None:
    assert matches(parse_need({"id": "a", "kind": "lcsc", "query": "C25744"}), PART)
    assert not matches(parse_need({"id": "a", "kind": "lcsc", "query": "C2574"}), PART)
    assert matches(parse_need({"id": "a", "kind": "mpn", "query": "0402WGF1002TCE"}), PART)
    assert not matches(parse_need({"id": "a", "kind": "mpn", "query": "0402wgf1002tce"}), PART)


def test_every_condition_must_hold() -> None:
    assert matches(need(where={**CHIP, R: {"eq": 1e4}}), PART)
    assert not matches(need(where={**CHIP, R: {"eq": 1e3}}), PART)
    assert matches(need(filters={"package": "0402", "stock_min": 1200}), PART)
    assert not matches(need(filters={"package": "0402", "stock_min": 1201}), PART)
    red, green = ({f"attributes.{a}": {"eq": c}} for a, c in
                  (("Illumination color", "Red"), ("Emitted color", "Green")))
    assert matches(need(any_of=[red, {"attributes.Emitted color": {"eq": "red"}}]), PART)
    assert not matches(need(any_of=[red, green]), PART)


def test_text_and_exclude_search_the_record_text_ignoring_case() -> None:
    assert "0402WGF1002TCE" in record_text(PART) and "±1%" in record_text(PART)
    assert matches(need(text=["^0402WGF", "THICK FILM"]), PART)
    assert not matches(need(text=["thick film", "thin film"]), PART)
    assert matches(need(text=["resistor"], exclude="varistor"), PART)
    assert not matches(need(text=["resistor"], exclude="SURFACE mount"), PART)
    assert matches(need(exclude="varistor"), PART)
