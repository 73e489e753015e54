"""Exclusion rules: the one shape, parsed strictly; the Python test and the SQL over a lookup
table give the same answers; counts by rule; the engine drops excluded hits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.exclusion import (
    InvalidRule,
    count_by_rule,
    excluded_where,
    first_rule,
    load_rules_file,
    matches_record,
    parse_rule,
    parse_rules,
    record_view,
)
from snapsearch.search.types import SearchRequest
from tests.multistore import build_two, sources


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    base = tmp_path_factory.mktemp("excl")
    result = build_two(base / "store", *sources(base))
    with open_snapshot(result.path) as snap:
        yield SearchEngine(snap, HashingEncoder(64))


RULES: list[dict[str, Any]] = [
    {"name": "extended", "field": "library_type", "equals": "Extended"},
    {"name": "makers", "field": "manufacturer", "in": ["UNI-ROYAL(Uniroyal Elec)", "Sunlord"]},
    {"name": "bead", "field": "description", "matches": "(?i)ferrite"},
    {"name": "low", "field": "stock", "below": 1000},
    {"name": "price", "field": "price_usd", "below": 0.002},
    {"name": "status", "field": "status", "equals": "Obsolete"},
    {"name": "numeq", "field": "stock", "equals": 600},
    {"name": "text-vs-number", "field": "stock", "equals": "600"},
]


def test_a_rule_holds_by_its_operator() -> None:
    r = parse_rule({"field": "status", "equals": "Obsolete"}, "r")
    assert r.name == "status-equals" and r.holds("Obsolete") and not r.holds("obsolete")
    assert not r.holds(None) and not r.holds(3)
    r = parse_rule({"field": "m", "in": ["A", 2]}, "r")
    assert r.holds("A") and r.holds(2) and r.holds(2.0) and not r.holds("2")
    r = parse_rule({"field": "d", "matches": "^ab"}, "r")
    assert r.holds("abc") and not r.holds("cab") and not r.holds(12)
    r = parse_rule({"field": "stock", "below": 10}, "r")
    assert r.holds(9) and r.holds(9.5) and not r.holds(10) and not r.holds("5")


@pytest.mark.parametrize(("raw", "field", "words"), [
    ("x", "exclude", ["list"]),
    ([{"field": "a"}], "exclude.0", ["exactly one"]),
    ([{"field": "a", "equals": 1, "below": 2}], "exclude.0", ["exactly one"]),
    ([{"field": "a b", "equals": 1}], "exclude.0.field", ["record field"]),
    ([{"field": "a", "equals": [1]}], "exclude.0.equals", ["string, a number"]),
    ([{"field": "a", "in": []}], "exclude.0.in", ["1 to 1000"]),
    ([{"field": "a", "matches": "("}], "exclude.0.matches", ["regular expression"]),
    ([{"field": "a", "below": "3"}], "exclude.0.below", ["number"]),
    ([{"field": "a", "below": True}], "exclude.0.below", ["number"]),
    ([{"field": "a", "equals": 1, "colour": 1}], "exclude.0.colour", ["unknown field"]),
    ([{"name": "x", "field": "a", "equals": 1}, {"name": "x", "field": "b", "equals": 1}],
     "exclude.1.name", ["repeats"]),
    ([{"field": "a", "equals": 1}] * 51, "exclude", ["at most 50"]),
])
def test_bad_rules_name_the_field_and_what_is_allowed(raw: Any, field: str,
                                                      words: list[str]) -> None:
    with pytest.raises(InvalidRule) as err:
        parse_rules(raw)
    assert err.value.field == field and err.value.code == "invalid_exclude"
    for w in words:
        assert w in err.value.message


def test_sql_and_python_agree_on_every_record(engine: SearchEngine) -> None:
    s = engine.searchable("parts")
    col, kind = s.col, s.kind
    rules = parse_rules(RULES, source="request")
    columns = ["id", *kind.filter_columns]
    rows = col.conn.execute(f"SELECT * FROM {col.lookup}").fetchall()
    views = {r["pos"]: record_view({c: r[c] for c in columns}, json.loads(r["summary"]))
             for r in rows}
    for rule in rules:
        where = excluded_where(col, kind, [rule])
        assert where is not None
        kept = {int(p[0]) for p in col.conn.execute(
            f"SELECT pos FROM {col.lookup} WHERE {where[0]}", where[1])}
        expected = {p for p, v in views.items() if not rule.holds(v.get(rule.field))}
        assert kept == expected, rule.name
    # counts by rule: a record counts for the first rule that holds, as first_rule says
    counts = count_by_rule(col, kind, rules, None)
    by_python: dict[str, int] = {}
    for v in views.values():
        hit = first_rule(rules, v)
        if hit is not None:
            by_python[hit.label] = by_python.get(hit.label, 0) + 1
    assert counts == by_python and sum(counts.values()) > 50
    assert "request:text-vs-number" not in counts  # a string never equals a number


def test_the_engine_drops_excluded_hits_and_counts_them(engine: SearchEngine) -> None:
    plain = engine.search(SearchRequest(query="resistor", collection="parts", limit=50))
    req = SearchRequest(query="resistor", collection="parts", limit=50,
                        exclude=[{"name": "basic", "field": "library_type", "equals": "Basic"}])
    resp = engine.search(req)
    assert resp.hits and all(h.record["library_type"] != "Basic" for h in resp.hits)
    removed = sum(1 for h in plain.hits if h.record["library_type"] == "Basic")
    assert resp.excluded["request:basic"] >= removed > 0
    assert resp.total_candidates == plain.total_candidates - resp.excluded["request:basic"]
    assert "excluded" not in json.loads(resp.model_dump_json())  # metrics only


def test_policy_rules_apply_where_their_field_exists(engine: SearchEngine) -> None:
    policy = parse_rules([{"name": "nc", "field": "licence", "equals": "non-commercial"},
                          {"name": "basic", "field": "library_type", "equals": "Basic"}],
                         source="policy")
    notes = engine.search(SearchRequest(query="regulator dropout", collection="notes",
                                        limit=10), exclude=policy)
    assert notes.hits  # licence is no summary field of notes: the rule does not apply
    parts = engine.search(SearchRequest(query="resistor", collection="parts"), exclude=policy)
    assert all(h.record["library_type"] != "Basic" for h in parts.hits)
    assert parts.excluded.get("policy:basic", 0) > 0


def test_a_request_rule_over_a_field_the_kind_lacks_is_refused(engine: SearchEngine) -> None:
    with pytest.raises(InvalidRule) as err:
        engine.search(SearchRequest(query="x", collection="notes",
                                    exclude=[{"field": "stock", "below": 3}]))
    assert err.value.field == "exclude.0.field" and "title" in err.value.message


def test_rules_file(tmp_path: Path) -> None:
    f = tmp_path / "rules.json"
    f.write_text(json.dumps({"rules": RULES[:2]}))
    assert [r.name for r in load_rules_file(f, "build")] == ["extended", "makers"]
    f.write_text(json.dumps(RULES[:1]))
    assert load_rules_file(f, "policy")[0].label == "policy:extended"
    f.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_rules_file(f, "build")
    f.write_text(json.dumps([{"field": "x"}]))
    with pytest.raises(ValueError, match="rules.0: give exactly one"):
        load_rules_file(f, "build")
    with pytest.raises(ValueError, match="cannot read"):
        load_rules_file(tmp_path / "none.json", "build")


def test_matches_record_and_describe() -> None:
    rules = parse_rules(RULES[:4])
    assert matches_record(rules, {"library_type": "Extended"})
    assert not matches_record(rules, {"library_type": "Basic", "stock": 5000})
    assert rules[1].describe() == {"name": "makers", "field": "manufacturer",
                                   "in": ["Sunlord", "UNI-ROYAL(Uniroyal Elec)"]}
    assert rules[2].describe()["matches"] == "(?i)ferrite"
