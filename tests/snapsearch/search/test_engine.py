"""SearchEngine over real snapshots (real writer, HashingEncoder): modes, exact matches, filters,
pagination, min_score and the FTS5 query it builds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.fetch import fetch_source
from pipelines.transform.build import BuildOptions, CollectionSpec, build_snapshot
from snapsearch.format.links import resolve_current
from snapsearch.format.manifest import FusionSettings
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds.parts.grammar import normalise_package
from snapsearch.search.engine import SearchEngine
from snapsearch.search.errors import FilterNotSupported, UnknownCollection
from snapsearch.search.retrievers import fts_match_expression
from snapsearch.search.types import Hit, SearchRequest, SearchResponse

KNOWN_ID = "C25744"  # 10k 0402 1% thick film resistor, Basic, in stock (tests/serve/conftest.py)
MODES = ["vector", "lexical", "hybrid"]
SUBSCORES = {"vector": {"dense"}, "lexical": {"lexical"}, "hybrid": {"dense", "lexical"}}
Record = dict[str, Any]


@pytest.fixture(scope="module")
def engine(store: Path) -> Iterator[SearchEngine]:
    snap = open_snapshot(resolve_current(store))
    try:
        yield SearchEngine(snap, HashingEncoder(snap.manifest.model.dim))
    finally:
        snap.close()


@pytest.fixture(scope="module")
def docs_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    """A snapshot holding only a 16-record ``text`` collection "docs" (no filter columns)."""
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "corpus.jsonl"
    docs = [{"_id": f"doc{i}", "title": f"Datasheet note {i}", "text": f"How to pick part {i}."}
            for i in range(16)]
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    root = tmp / "store"
    spec = CollectionSpec("docs", "text", fetch_source(str(src), root))
    result = build_snapshot(root, [spec], HashingEncoder(64), BuildOptions())
    snap = open_snapshot(result.path)
    try:
        yield SearchEngine(snap, HashingEncoder(64))
    finally:
        snap.close()


def search(engine: SearchEngine, query: str, **kw: Any) -> SearchResponse:
    return engine.search(SearchRequest(query=query, **kw))


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def values_of(record: Record, unit: str) -> list[float]:
    """Every parsed numeric value of ``unit`` kind in a full record."""
    return [
        v["value"]
        for keys in record.get("attributes_numeric", {}).values()
        for v in keys.values()
        if v["unit"] == unit
    ]


def resistance(record: Record) -> float | None:
    return record.get("attributes_numeric", {}).get("Resistance", {}).get("resistance", {}).get(
        "value"
    )


# -- modes and scores --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["10k 0402 resistor", KNOWN_ID, "ceramic capacitor 100nF"])
@pytest.mark.parametrize("mode", MODES)
def test_scores_in_unit_interval_with_the_modes_subscores(
    engine: SearchEngine, mode: str, query: str
) -> None:
    body = search(engine, query, mode=mode, limit=50)

    assert body.hits
    for hit in body.hits:
        assert 0.0 <= hit.score <= 1.0
        assert set(hit.scores) == SUBSCORES[mode]
        assert all(0.0 <= v <= 1.0 for v in hit.scores.values())


@pytest.mark.parametrize(("mode", "subscore"), [("vector", "dense"), ("lexical", "lexical")])
def test_single_retriever_score_is_its_subscore_in_order(
    engine: SearchEngine, mode: str, subscore: str
) -> None:
    hits = search(engine, "10k 0402 resistor", mode=mode, limit=50).hits

    assert [h.score for h in hits] == [h.scores[subscore] for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_lexical_best_hit_scores_one(engine: SearchEngine) -> None:
    assert search(engine, "resistor", mode="lexical").hits[0].scores["lexical"] == 1.0


@pytest.mark.parametrize(
    "fusion",
    [
        FusionSettings(),
        FusionSettings(method="rrf"),
        FusionSettings(normalization="zscore"),
        FusionSettings(alpha=0.0),
        FusionSettings(alpha=1.0),
    ],
    ids=["convex", "rrf", "zscore", "alpha0", "alpha1"],
)
def test_hybrid_scores_in_unit_interval_for_every_fusion(
    engine: SearchEngine, fusion: FusionSettings
) -> None:
    tuned = SearchEngine(engine.snapshot, engine.encoder, fusion=fusion)

    hits = search(tuned, "10k 0402 resistor", mode="hybrid", limit=100).hits

    assert hits and all(0.0 <= h.score <= 1.0 for h in hits)
    assert hits[0].id == KNOWN_ID  # the one record matching both the package and the value


# -- exact id / MPN ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", [KNOWN_ID, KNOWN_ID.lower(), f"{KNOWN_ID} resistor"])
def test_exact_id_comes_first_with_score_one(engine: SearchEngine, query: str) -> None:
    top = search(engine, query, mode="hybrid").hits[0]

    assert top.id == KNOWN_ID
    assert top.score == 1.0
    assert top.reasons[0] == f"exact id {KNOWN_ID}"


@pytest.mark.parametrize("case", [str.upper, str.lower], ids=["upper", "lower"])
def test_exact_mpn_comes_first_with_score_one(
    engine: SearchEngine, case: Callable[[str], str]
) -> None:
    record = engine.get_record(KNOWN_ID)
    assert record is not None
    mpn = record["mfr_part"]

    top = search(engine, case(mpn), mode="hybrid").hits[0]

    assert top.id == KNOWN_ID
    assert top.score == 1.0
    assert top.reasons[0] == f"exact mpn {mpn.upper()}"


def test_exact_match_still_obeys_hard_filters(engine: SearchEngine) -> None:
    body = search(engine, KNOWN_ID, mode="hybrid", limit=100, filters=dict(package="SOIC-14"))

    assert KNOWN_ID not in ids(body.hits)
    assert not any(r.startswith("exact") for h in body.hits for r in h.reasons)


def test_resistor_query_is_never_part_c402(engine: SearchEngine) -> None:
    hits = search(engine, "10k 0402 resistor", mode="hybrid", limit=100).hits

    assert hits
    assert not any(r.startswith("exact") for h in hits for r in h.reasons)


def test_boost_reasons_name_exactly_the_features_a_hit_matches(engine: SearchEngine) -> None:
    hits = search(engine, "10k 0402 resistor", mode="hybrid", limit=10).hits

    assert hits[0].id == KNOWN_ID
    assert {"package 0402", "resistance 10k"} <= set(hits[0].reasons)
    for hit in hits:
        record = engine.get_record(hit.id)
        assert record is not None
        is_0402 = normalise_package(record["package"]).startswith("0402")
        is_10k = any(v == pytest.approx(1e4) for v in values_of(record, "resistance"))
        assert ("package 0402" in hit.reasons) == is_0402, hit.id
        assert ("resistance 10k" in hit.reasons) == is_10k, hit.id


# -- hard filters ------------------------------------------------------------------------------

TEN_K = dict(attribute="Resistance", key="resistance", min=9e3, max=1.1e4)
FILTER_CASES = [  # (filters, what every hit's full record must satisfy)
    pytest.param(dict(package="SOIC-14"), lambda r: r["package"] == "SOIC-14",
                 id="package-selective"),
    pytest.param(dict(numeric=[TEN_K]), lambda r: 9e3 <= (resistance(r) or 0) <= 1.1e4,
                 id="numeric-selective"),
    pytest.param(dict(category="Resistors"), lambda r: r["category"] == "Resistors",
                 id="category"),
    pytest.param(dict(library_type="Basic"), lambda r: r["library_type"] == "Basic",
                 id="library_type-broad"),
    pytest.param(dict(in_stock=True), lambda r: r["stock"] > 0, id="in_stock-broad"),
    pytest.param(
        dict(package="0402", library_type="Basic", in_stock=True,
                numeric=[dict(attribute="Resistance", key="resistance", min=1e3)]),
        lambda r: (r["package"], r["library_type"]) == ("0402", "Basic") and r["stock"] > 0
        and (resistance(r) or 0) >= 1e3,
        id="combined",
    ),
]


@pytest.fixture(scope="module")
def records(engine: SearchEngine) -> list[Record]:
    return list(engine.collection(None).iter_details())


@pytest.mark.parametrize(("filters", "ok"), FILTER_CASES)
@pytest.mark.parametrize("mode", MODES)
def test_every_hit_satisfies_the_filters(
    engine: SearchEngine, mode: str, filters: dict[str, Any], ok: Callable[[Record], bool]
) -> None:
    hits = search(engine, "10k 0402 resistor", mode=mode, limit=100, filters=filters).hits

    for hit in hits:
        record = engine.get_record(hit.id)
        assert record is not None and ok(record), hit.id


@pytest.mark.parametrize(("filters", "ok"), FILTER_CASES)
@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_dense_modes_return_every_survivor_up_to_the_limit(
    engine: SearchEngine, records: list[Record], mode: str, filters: dict[str, Any],
    ok: Callable[[Record], bool],
) -> None:
    survivors = {r["lcsc"] for r in records if ok(r)}

    got = ids(search(engine, "10k 0402 resistor", mode=mode, limit=100, filters=filters).hits)

    assert len(got) == len(set(got)) == min(100, len(survivors))
    assert set(got) <= survivors


def test_filter_cases_span_selective_and_broad(records: list[Record]) -> None:
    """The table above exercises both paths: exact scan (<= 30 % of rows) and ANN + oversampling."""
    share = {case.id: sum(map(case.values[1], records)) / len(records) for case in FILTER_CASES}

    assert share["package-selective"] <= 0.03 and share["numeric-selective"] <= 0.03
    assert share["library_type-broad"] > 0.5 and share["in_stock-broad"] > 0.5


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_limit_beyond_few_survivors_returns_exactly_them(engine: SearchEngine, mode: str) -> None:
    body = search(engine, "resistor", mode=mode, limit=100, filters=dict(package="SOIC-14"))

    assert len(body.hits) == 3
    assert {h.record["package"] for h in body.hits} == {"SOIC-14"}


@pytest.mark.parametrize(
    "filters",
    [dict(in_stock=False), dict(stock_min=10**12), dict(package="NO-SUCH-PACKAGE"),
     dict(numeric=[dict(attribute="Resistance", key="resistance", min=-2, max=-1)])],
    ids=["out-of-stock", "stock_min", "package", "numeric"],
)
@pytest.mark.parametrize("mode", MODES)
def test_filter_nobody_satisfies_gives_no_hits(
    engine: SearchEngine, mode: str, filters: dict[str, Any]
) -> None:
    body = search(engine, KNOWN_ID, mode=mode, limit=100, filters=filters)

    assert body.hits == []
    assert body.match == "none"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (dict(package="0402"), "filters.package"),
        (dict(category="Resistors"), "filters.category"),
        (dict(library_type="Basic"), "filters.library_type"),
        (dict(in_stock=True), "filters.in_stock"),
        (dict(stock_min=1), "filters.stock_min"),
        (dict(numeric=[dict(attribute="Resistance", key="resistance", min=1)]),
         "filters.numeric"),
    ],
)
def test_filter_the_collection_lacks_raises(
    docs_engine: SearchEngine, filters: dict[str, Any], field: str
) -> None:
    with pytest.raises(FilterNotSupported) as exc:
        search(docs_engine, "pick a part", filters=filters)

    assert exc.value.field == field


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_limit_beyond_a_small_collection_returns_all_of_it(
    docs_engine: SearchEngine, mode: str
) -> None:
    assert len(search(docs_engine, "pick a part", mode=mode, limit=100).hits) == 16


def test_unknown_collection_raises(engine: SearchEngine) -> None:
    with pytest.raises(UnknownCollection):
        search(engine, "resistor", collection="no-such-collection")


# -- pagination and min_score ------------------------------------------------------------------


@pytest.mark.parametrize("query", ["10k 0402 resistor", "smd resistor 0603"])
@pytest.mark.parametrize("mode", MODES)
def test_pages_concatenate_to_one_request(engine: SearchEngine, mode: str, query: str) -> None:
    whole = ids(search(engine, query, mode=mode, limit=100).hits)

    pages = [ids(search(engine, query, mode=mode, limit=20, offset=o).hits)
             for o in range(0, 100, 20)]

    assert [i for page in pages for i in page] == whole
    assert len(set(whole)) == len(whole)


@pytest.mark.parametrize("mode", MODES)
def test_pages_past_the_candidate_pool_keep_the_ranking(engine: SearchEngine, mode: str) -> None:
    first = ids(search(engine, "smd resistor 0603", mode=mode, limit=100).hits)
    later = ids(search(engine, "smd resistor 0603", mode=mode, limit=100, offset=50).hits)

    assert len(first) == 100
    assert later[:50] == first[50:]


@pytest.mark.parametrize("mode", MODES)
def test_min_score_drops_only_hits_below_it(engine: SearchEngine, mode: str) -> None:
    every = search(engine, "10k 0402 resistor", mode=mode, limit=100).hits

    kept = search(engine, "10k 0402 resistor", mode=mode, limit=100, min_score=0.3).hits

    assert 0 < len(kept) < len(every)
    assert ids(kept) == [h.id for h in every if h.score >= 0.3]


def test_min_score_keeps_mpn_prefix_matches_below_it(engine: SearchEngine) -> None:
    hits = search(engine, "0402WGF", mode="hybrid", limit=100, min_score=0.95).hits

    assert KNOWN_ID in ids(hits)
    for hit in hits:  # prefix matches survive at 0.9, everything else only above min_score
        assert hit.score >= 0.95 or (hit.reasons[0] == "mpn prefix 0402WGF" and hit.score == 0.9)
    assert any(h.score == 0.9 for h in hits)


# -- the FTS5 match expression -----------------------------------------------------------------

INJECTIONS = ['foo" OR bar*', "NEAR(a b)", 'resistor AND -capacitor', '"unbalanced',
              "package:0402", "^10k", "{mpn lcsc}: x", "a NOT b", "res* OR (cap"]
SAFE = re.compile(r'"[^"]+"( OR "[^"]+")*')


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ('foo" OR bar*', '"foo" OR "or" OR "bar"'),  # FTS5 operators become plain terms
        ("NEAR(a b)", '"near" OR "a" OR "b"'),
        ("10k 0402 Resistor", '"10k" OR "0402" OR "resistor"'),
        ("4.7uF 3.3V", '"4.7uf" OR "3.3v"'),  # dots inside a term stay
        ("resistor Resistor RESISTOR", '"resistor"'),
        ("resistor for the board", '"resistor" OR "for" OR "the" OR "board"'),  # stopwords stay
        ("resistor.", '"resistor"'),  # a full stop ends a sentence, not a term
    ],
)
def test_fts_match_expression(text: str, expr: str) -> None:
    assert fts_match_expression(text) == expr


@pytest.mark.parametrize("text", INJECTIONS)
def test_fts_match_expression_quotes_every_term(text: str) -> None:
    expr = fts_match_expression(text)

    assert expr is not None and SAFE.fullmatch(expr)


@pytest.mark.parametrize("text", ["!!!", "...", "-- * ()", "\"'"])
def test_fts_match_expression_without_words_is_none(text: str) -> None:
    assert fts_match_expression(text) is None


def test_fts_match_expression_caps_terms() -> None:
    expr = fts_match_expression(" ".join(f"w{i}" for i in range(100)))

    assert expr is not None and expr.count(" OR ") == 63


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
@pytest.mark.parametrize("query", INJECTIONS)
def test_fts_syntax_in_a_query_does_not_raise(engine: SearchEngine, mode: str, query: str) -> None:
    body = search(engine, query, mode=mode)

    assert body.match in ("good", "weak", "none")


def test_lexical_query_without_words_matches_nothing(engine: SearchEngine) -> None:
    body = search(engine, "!!!", mode="lexical")

    assert (body.hits, body.match) == ([], "none")


def test_a_trailing_full_stop_does_not_break_lexical_search(engine: SearchEngine) -> None:
    assert KNOWN_ID in ids(search(engine, f"{KNOWN_ID}.", mode="lexical").hits)


# -- category words ----------------------------------------------------------------------------


def test_words_run_together_name_a_compound_subcategory(engine: SearchEngine) -> None:
    """"op amp" names "Precision OpAmps" (the taxonomy writes it as one word)."""
    hits = search(engine, "op amp", mode="hybrid", limit=5).hits

    assert hits[0].record["subcategory"] == "Precision OpAmps"
    assert "category Precision OpAmps" in hits[0].reasons


def test_a_word_naming_a_third_of_the_records_is_no_category(engine: SearchEngine) -> None:
    """"resistor" names over 30 % of this store's parts: no tier, the fused score ranks."""
    hits = search(engine, "resistor", mode="hybrid", limit=10).hits

    assert hits and not any(r.startswith("category") for h in hits for r in h.reasons)
