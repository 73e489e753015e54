"""Lookup (no query text): exact filters, the kind's default order or a named sort, an exact
total, parametric tolerance windows, qty, packages normalised as in search; records by id and by
part number with the missing ones listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.errors import FilterNotSupported, InvalidFilter, SearchError
from snapsearch.search.exclusion import parse_rules
from snapsearch.search.lookup import (
    InvalidSort,
    LookupRequest,
    RecordsRequest,
    get_records,
    lookup,
)
from tests.multistore import TEN_K, TEN_K_5PCT, build_two, sample_parts, sources

RES = {"attribute": "Resistance", "key": "resistance"}
ORDER = {"Preferred": 0, "Basic": 1}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    base = tmp_path_factory.mktemp("lookup")
    result = build_two(base / "store", *sources(base))
    with open_snapshot(result.path) as snap:
        yield SearchEngine(snap, HashingEncoder(64))


def all_of(engine: SearchEngine, **kw: Any) -> list[dict[str, Any]]:
    """Every record of the lookup, page by page."""
    out: list[dict[str, Any]] = []
    while True:
        resp = lookup(engine, LookupRequest(collection="parts", limit=100, offset=len(out), **kw))
        out += [{"id": r.id, **r.record} for r in resp.records]
        if len(resp.records) < 100:
            assert resp.total == len(out)
            return out


def default_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (ORDER.get(r["library_type"], 2), -r["stock"], r["id"])


def test_no_filters_is_every_record_in_the_kinds_default_order(engine: SearchEngine) -> None:
    rows = all_of(engine)
    assert len(rows) == engine.collection("parts").count
    assert rows == sorted(rows, key=default_key)
    assert [r["library_type"] for r in rows[:1]] == ["Preferred"]
    first = lookup(engine, LookupRequest(collection="parts", limit=3))
    assert first.order == ["library_type (Preferred, Basic, then the rest)", "stock descending",
                           "id ascending"]
    assert first.total == len(rows) and first.snapshot_id == engine.snapshot.snapshot_id


def test_filters_hold_exactly_and_total_is_exact(engine: SearchEngine) -> None:
    rows = all_of(engine, filters={"category": "Resistors", "library_type": "Basic",
                                   "stock_min": 100000})
    expected = [r for r in all_of(engine) if r["category"] == "Resistors"
                and r["library_type"] == "Basic" and r["stock"] >= 100000]
    assert rows == expected and len(rows) > 10
    page = lookup(engine, LookupRequest(collection="parts", filters={"category": "Resistors"},
                                        limit=5, offset=5))
    assert page.total == len(all_of(engine, filters={"category": "Resistors"}))
    assert len(page.records) == 5


def test_qty_keeps_parts_with_enough_stock(engine: SearchEngine) -> None:
    rows = all_of(engine, filters={"qty": 5000000})
    assert rows and all(r["stock"] >= 5000000 for r in rows)
    assert len(rows) == sum(1 for r in all_of(engine) if r["stock"] >= 5000000)


def test_a_toleranced_value_matches_only_when_its_whole_window_is_inside(
        engine: SearchEngine) -> None:
    narrow = {r["id"] for r in all_of(engine, filters={"numeric": [{**RES, "min": 9900,
                                                                      "max": 10100}]})}
    # 10 kΩ ±1 % (9.9-10.1 kΩ) fits; ±5 % (9.5-10.5 kΩ) does not
    assert narrow == set(TEN_K) - set(TEN_K_5PCT)
    wide = {r["id"] for r in all_of(engine, filters={"numeric": [{**RES, "min": 9500,
                                                                    "max": 10500}]})}
    assert set(TEN_K) <= wide
    # one-sided ranges check one side of the window
    at_least = {r["id"] for r in all_of(engine, filters={"numeric": [{**RES, "min": 9600}]})}
    assert set(TEN_K_5PCT).isdisjoint(at_least) and set(TEN_K) - set(TEN_K_5PCT) <= at_least
    at_most = {r["id"] for r in all_of(engine, filters={"numeric": [{**RES, "max": 10400}]})}
    assert set(TEN_K_5PCT).isdisjoint(at_most)


def test_search_ranges_still_read_the_nominal_value(engine: SearchEngine) -> None:
    """Windows are lookup's reading; search's filter holds a value inside the range."""
    from snapsearch.search.types import SearchRequest

    resp = engine.search(SearchRequest(query="10k resistor", collection="parts", limit=100,
                                       filters={"numeric": [{**RES, "min": 9900, "max": 10100}]}))
    assert set(TEN_K_5PCT) & {h.id for h in resp.hits}


def test_packages_are_normalised_as_in_search(engine: SearchEngine) -> None:
    exact = all_of(engine, filters={"package": "SOT-23"})
    assert exact and all(r["package"] in ("SOT-23", "SOT-23(TO-236)") or
                         r["package"].upper().startswith("SOT-23(") for r in exact)
    assert all_of(engine, filters={"package": "sot-23"}) == exact
    assert all_of(engine, filters={"package": "sot 23"}) == all_of(engine,
                                                                  filters={"package": "SOT 23"})
    assert not {r["package"] for r in exact} & {"SOT-23-5", "SOT-23-6"}
    chips = all_of(engine, filters={"package": "0402"})
    # a bare size code sits inside a package name, as search reads it: 0402 arrays too
    assert chips and {r["package"] for r in chips} == {"0402", "0402x4"}
    assert all_of(engine, filters={"package": "no-such-package"}) == []


def test_named_sort_then_the_default_order(engine: SearchEngine) -> None:
    rows = all_of(engine, filters={"category": "Resistors"}, sort="price_usd")
    prices = [r["price_usd"] for r in rows]
    known = [p for p in prices if p is not None]
    assert known == sorted(known) and prices[: len(known)] == known  # no price: last
    same = [r for r in rows if r["price_usd"] == known[0]]
    assert same == sorted(same, key=default_key)  # ties in the default order
    desc = all_of(engine, filters={"category": "Resistors"}, sort="-stock")
    assert [r["stock"] for r in desc] == sorted((r["stock"] for r in desc), reverse=True)
    by_id = all_of(engine, sort="id")
    assert [r["id"] for r in by_id] == sorted(r["id"] for r in by_id)
    resp = lookup(engine, LookupRequest(collection="parts", sort="-stock", limit=1))
    assert resp.order[0] == "stock descending"


@pytest.mark.parametrize("sort", ["colour", "-", "--stock", "summary", "stock; drop"])
def test_an_unknown_sort_names_the_fields(engine: SearchEngine, sort: str) -> None:
    with pytest.raises(InvalidSort) as err:
        lookup(engine, LookupRequest(collection="parts", sort=sort))
    assert err.value.field == "sort" and "price_usd" in err.value.message


def test_lookup_errors(engine: SearchEngine) -> None:
    with pytest.raises(FilterNotSupported):
        lookup(engine, LookupRequest(collection="parts", filters={"colour": "red"}))
    with pytest.raises(InvalidFilter):
        lookup(engine, LookupRequest(collection="parts", filters={"qty": -1}))
    with pytest.raises(FilterNotSupported):
        lookup(engine, LookupRequest(collection="notes", filters={"package": "0402"}))


def test_exclusions_before_the_count(engine: SearchEngine) -> None:
    everything = all_of(engine, filters={"category": "Resistors"})
    req = LookupRequest(collection="parts", filters={"category": "Resistors"}, limit=100,
                        exclude=[{"name": "ext", "field": "library_type", "equals": "Extended"}])
    policy = parse_rules([{"name": "low", "field": "stock", "below": 100000}], source="policy")
    resp = lookup(engine, req, policy)
    kept = [r for r in everything if r["library_type"] != "Extended" and r["stock"] >= 100000]
    assert resp.total == len(kept)
    assert resp.excluded == {
        k: v for k, v in {
            "request:ext": sum(1 for r in everything if r["library_type"] == "Extended"),
            "policy:low": sum(1 for r in everything
                              if r["library_type"] != "Extended" and r["stock"] < 100000),
        }.items() if v
    }


def test_text_collections_look_up_by_id(engine: SearchEngine) -> None:
    resp = lookup(engine, LookupRequest(collection="notes", limit=10))
    assert [r.id for r in resp.records] == ["n1", "n2", "n3", "n4", "n5"]
    assert resp.records[0].record["created_at"] == "2024-01-10"


# -- records by id and part number ---------------------------------------------------------------


def test_records_by_id_list_the_missing(engine: SearchEngine) -> None:
    resp = get_records(engine, RecordsRequest(collection="parts",
                                              ids=["C25744", "C0", "C25725", "C25744"]))
    assert [r.id for r in resp.records] == ["C25744", "C25725"]
    assert resp.missing == ["C0"] and resp.missing_mpns == []
    assert resp.records[0].record["mfr_part"] == "0402WGF1002TCE"  # the full record


def test_records_by_part_number(engine: SearchEngine) -> None:
    parts = {r["lcsc"]: r for r in sample_parts()}
    mpns = ["0402wgf1002tce", "NOPE-123", "1206W4F1002T5E"]
    resp = get_records(engine, RecordsRequest(collection="parts", mpns=mpns))
    assert [(r.id, r.mpn) for r in resp.records] == [("C25744", "0402wgf1002tce"),
                                                      ("C17902", "1206W4F1002T5E")]
    assert resp.missing_mpns == ["NOPE-123"]
    assert json.dumps(resp.records[0].record, sort_keys=True) == json.dumps(
        parts["C25744"], sort_keys=True)


def test_records_edge_cases(engine: SearchEngine) -> None:
    with pytest.raises(ValueError):
        RecordsRequest(ids=[])
    with pytest.raises(ValueError):
        RecordsRequest(ids=["x"] * 101)
    with pytest.raises(SearchError, match="no part numbers"):
        get_records(engine, RecordsRequest(collection="notes", mpns=["X"]))
    resp = get_records(engine, RecordsRequest(collection="notes", ids=["n2", "n9"]))
    assert [r.id for r in resp.records] == ["n2"] and resp.missing == ["n9"]
    assert resp.records[0].record["licence"] == "CC-BY-4.0"
