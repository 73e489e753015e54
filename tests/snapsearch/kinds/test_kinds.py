"""Record kinds: parts and text rows, every reject rule, and the registry as an extension point."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import RejectRecord, get_kind
from snapsearch.kinds.parts.grammar import si_spellings
from tests.conftest import build_from, sample_records, write_jsonl


@pytest.fixture(scope="module")
def c25744() -> dict[str, Any]:
    return next(r for r in sample_records() if r["lcsc"] == "C25744")


@pytest.fixture
def good(c25744) -> dict[str, Any]:
    return copy.deepcopy(c25744)


# -- parts -----------------------------------------------------------------------------------
def test_parts_row_from_a_real_record(c25744):
    row = get_kind("parts").to_row(c25744)
    assert row.id == "C25744"
    for piece in ("0402WGF1002TCE", "UNI-ROYAL(Uniroyal Elec)", "Resistors",
                  "Chip Resistor - Surface Mount", "0402", "Thick Film Resistor"):
        assert piece in row.text, piece
    assert c25744["description"] in row.text
    assert row.detail == c25744
    assert row.lexical["lcsc"] == "C25744"
    assert row.lexical["mpn"] == "0402WGF1002TCE"


def test_parts_values_spell_the_resistance(c25744):
    values = get_kind("parts").to_row(c25744).lexical["values"].split()
    assert "10k" in values
    assert "10kohm" in values
    assert "1%" in values  # from the Tolerance attribute


def test_parts_filters_and_numeric_are_typed(c25744):
    row = get_kind("parts").to_row(c25744)
    f = row.filters
    assert f["stock"] == 5618487 and type(f["stock"]) is int
    assert f["price_usd"] == pytest.approx(0.0013) and isinstance(f["price_usd"], float)
    assert f["library_type"] == "Basic"
    assert f["package"] == "0402"
    assert f["mpn"] == "0402WGF1002TCE"
    assert set(f) == set(get_kind("parts").filter_columns)
    assert ("Resistance", "resistance", "resistance", 10000.0) in row.numeric
    assert ("Power", "power", "power", 0.0625) in row.numeric
    assert set(row.summary) == set(get_kind("parts").summary_fields)
    assert set(row.lexical) == set(get_kind("parts").lexical_fields)


def test_parts_defaults(good):
    for key in ("library_type", "stock", "manufacturer", "package", "price_tiers"):
        good.pop(key)
    row = get_kind("parts").to_row(good)
    assert row.filters["library_type"] == "Extended"
    assert row.filters["stock"] == 0
    assert row.filters["price_usd"] is None
    assert "unknown manufacturer" in row.text
    assert "unspecified" in row.text


def test_parts_whitespace_is_normalised(good):
    good["mfr_part"] = "  0402WGF1002TCE \n"
    good["description"] = "a\t\tb   c"
    row = get_kind("parts").to_row(good)
    assert row.lexical["mpn"] == "0402WGF1002TCE"
    assert row.summary["description"] == "a b c"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lcsc": None}, "'lcsc' missing"),
        ({"lcsc": "X12"}, "'X12' is not an LCSC id"),
        ({"lcsc": "C12a"}, "is not an LCSC id"),
        ({"lcsc": "   "}, "'lcsc' is empty"),
        ({"lcsc": 25744}, "'lcsc' missing or not a string"),
        ({"mfr_part": None}, "'mfr_part' missing"),
        ({"category": ""}, "'category' is empty"),
        ({"stock": -1}, "stock -1 is not a non-negative integer"),
        ({"stock": "many"}, "stock 'many' is not a non-negative integer"),
        ({"stock": True}, "stock True"),
        ({"stock": 2.5}, "stock 2.5"),
        ({"library_type": "Gold"}, "library_type 'Gold' is not one of"),
        ({"manufacturer": 7}, "'manufacturer' is not a string"),
        ({"attributes": ["x"]}, "attributes / attributes_numeric are not objects"),
    ],
)
def test_parts_reject_rules(good, change, reason):
    for key, value in change.items():
        if value is None:
            good.pop(key)
        else:
            good[key] = value
    with pytest.raises(RejectRecord, match=reason.replace("(", r"\(")):
        get_kind("parts").to_row(good)


@pytest.mark.parametrize("raw", [["C1"], "C25744", 42, None])
def test_parts_rejects_non_objects(raw):
    with pytest.raises(RejectRecord, match="not a JSON object"):
        get_kind("parts").to_row(raw)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [(10000.0, "resistance", "10k"), (1e-7, "capacitance", "100n"), (1e-7, "capacitance", "0.1u"),
     (3.3, "voltage", "3.3v"), (4.7e-6, "capacitance", "4.7uf"), (1e6, "resistance", "1m")],
)
def test_si_spellings(value, unit, expected):
    assert expected in si_spellings(value, unit)


@pytest.mark.parametrize(("value", "unit"), [(0.0, "resistance"), (-1.0, "voltage"),
                                             (float("nan"), "current"), (5.0, "furlongs")])
def test_si_spellings_none(value, unit):
    assert si_spellings(value, unit) == []


# -- text ------------------------------------------------------------------------------------
def test_text_row():
    row = get_kind("text").to_row({"_id": "d1", "title": "A  title", "text": "Body\ntext."})
    assert row.id == "d1"
    assert row.text == "A title. Body text."
    assert row.lexical == {"title": "A title", "text": "Body text."}
    assert row.filters == {}
    assert row.detail == {"id": "d1", "title": "A title", "text": "Body text."}


def test_text_int_id_and_id_alias():
    kind = get_kind("text")
    assert kind.to_row({"_id": 17, "text": "x"}).id == "17"
    assert kind.to_row({"id": " d2 ", "title": "t"}).id == "d2"
    assert kind.to_row({"_id": 3, "text": "only text"}).text == "only text"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"_id": "d1", "title": "", "text": ""}, "both 'title' and 'text' are empty"),
        ({"_id": "d1", "title": "  ", "text": "\n"}, "both 'title' and 'text' are empty"),
        ({"_id": "d1"}, "both 'title' and 'text' are empty"),
        ({"title": "t"}, "'_id' .* missing"),
        ({"_id": "  ", "title": "t"}, "'_id' .* missing or empty"),
        ({"_id": 1.5, "title": "t"}, "'_id' .* missing"),
        ({"_id": "d", "title": 3}, "'title' is not a string"),
        (["d1", "t"], "not a JSON object"),
    ],
)
def test_text_reject_rules(raw, reason):
    with pytest.raises(RejectRecord, match=reason):
        get_kind("text").to_row(raw)


def test_collection_info_mirrors_the_kind():
    kind = get_kind("parts")
    info = kind.collection_info(records=10, rejects=2)
    assert info.kind == "parts" and info.kind_version == kind.version
    assert info.template == kind.template
    assert info.filter_columns["stock"] == "integer"
    assert info.records == 10 and info.rejects == 2
    assert info.tokenizer == kind.tokenizer


# -- registry --------------------------------------------------------------------------------


# -- what a kind says about searching and showing ------------------------------------------------


def test_parts_fallback_queries_come_from_its_own_records(built):
    snap = open_snapshot(built.path)
    try:
        col = snap.collection("parts")
        queries = get_kind("parts").fallback_queries(col, 30)
        again = get_kind("parts").fallback_queries(col, 30)
        subcategories = {d["subcategory"] for d in col.iter_details()}
        mpns = {d["mfr_part"] for d in col.iter_details()}
    finally:
        snap.close()
    assert queries == again and len(queries) == 30  # deterministic
    assert any(q in mpns for q in queries)
    assert any(any(q.startswith(s) for s in subcategories if s) for q in queries)


def test_text_fallback_queries_are_its_titles_not_parts(tmp_path, hash_encoder):
    docs = [{"_id": f"d{i}", "title": f"Essay number {i}", "text": "On thermal design."}
            for i in range(10)]
    result = build_from(write_jsonl(tmp_path / "c.jsonl", docs), tmp_path / "s", hash_encoder,
                        kind="text", collection="docs")
    snap = open_snapshot(result.path)
    try:
        queries = get_kind("text").fallback_queries(snap.collection("docs"), 4)
    finally:
        snap.close()
    assert queries[0].startswith("Essay number 0") and len(queries) == 4
    assert not any("resistor" in q or "capacitor" in q for q in queries)


def test_display_is_one_line_of_the_kind_s_key_fields(c25744):
    row = get_kind("parts").to_row(c25744)
    assert get_kind("parts").display(row.summary).startswith("0402WGF1002TCE | 0402 | ")
    text = get_kind("text").to_row({"_id": "a", "title": "Title", "text": "Body"})
    assert get_kind("text").display(text.summary) == "Title"
