"""Several collections, one answer: each searched on its own, merged by calibrated scores; every
hit names its collection; per-collection limits, weights and filters; the manifest's default
weights; confidence from the query's nearness to each collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from pipelines.transform.build import BuildOptions
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import Snapshot, open_snapshot
from snapsearch.search import multi
from snapsearch.search.engine import SearchEngine
from snapsearch.search.errors import SearchError, UnknownCollection
from snapsearch.search.multi import MultiSearchRequest, confidence, search_collections
from tests.multistore import build_two, sources


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    base = tmp_path_factory.mktemp("multi")
    result = build_two(base / "store", *sources(base),
                       options=BuildOptions(collection_weights={"notes": 0.5}))
    with open_snapshot(result.path) as s:
        yield s


@pytest.fixture(scope="module")
def engine(snap: Snapshot) -> SearchEngine:
    return SearchEngine(snap, HashingEncoder(64))


def req(**kw: object) -> MultiSearchRequest:
    return MultiSearchRequest(**{"query": "pull-up resistor 10k", **kw})  # type: ignore[arg-type]


def test_hits_of_every_collection_merged_by_score(engine: SearchEngine) -> None:
    resp = search_collections(engine, req(limit=30))
    assert resp.collections == ["notes", "parts"]  # "all": the snapshot's order
    assert {h.collection for h in resp.hits} == {"parts", "notes"}
    scores = [h.score for h in resp.hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    for h in resp.hits:
        c = resp.per_collection[h.collection]
        expected = min(1.0, h.scores["collection"] * c.confidence * c.weight)
        assert h.score == pytest.approx(expected, abs=1e-6)
        assert h.reasons[-1].startswith(f"collection {h.collection} ")
    assert resp.per_collection["notes"].weight == 0.5  # the manifest's default
    assert resp.per_collection["parts"].weight == 1.0
    assert sum(c.returned for c in resp.per_collection.values()) == len(resp.hits)


def test_within_a_collection_the_order_is_its_own(engine: SearchEngine) -> None:
    from snapsearch.search.types import SearchRequest

    resp = search_collections(engine, req(limit=40))
    for name in ("parts", "notes"):
        alone = engine.search(SearchRequest(query="pull-up resistor 10k", collection=name,
                                            limit=40))
        merged = [h.id for h in resp.hits if h.collection == name]
        assert merged == [h.id for h in alone.hits][: len(merged)]


def test_weights_limits_and_filters_per_collection(engine: SearchEngine) -> None:
    only_notes = search_collections(engine, req(weights={"parts": 0.0}, min_score=0.000001))
    assert {h.collection for h in only_notes.hits} == {"notes"}
    capped = search_collections(engine, req(limits={"parts": 2}, limit=20))
    assert sum(1 for h in capped.hits if h.collection == "parts") == 2
    filtered = search_collections(engine, req(filters={"parts": {"package": "0402"}}, limit=30))
    assert all(h.record["package"] == "0402" for h in filtered.hits if h.collection == "parts")
    named = search_collections(engine, req(collections=["notes"]))
    assert {h.collection for h in named.hits} == {"notes"} and named.collections == ["notes"]


def test_paging_cuts_one_merged_ranking(engine: SearchEngine) -> None:
    whole = search_collections(engine, req(limit=20))
    second = search_collections(engine, req(limit=10, offset=10))
    assert [(h.collection, h.id) for h in second.hits] == [
        (h.collection, h.id) for h in whole.hits[10:20]]


def test_bad_requests(engine: SearchEngine) -> None:
    with pytest.raises(UnknownCollection):
        search_collections(engine, req(collections=["parts", "nope"]))
    with pytest.raises(SearchError, match="weights.nope"):
        search_collections(engine, req(weights={"nope": 1.0}))
    with pytest.raises(SearchError) as err:
        search_collections(engine, req(exclude=[{"field": "colour", "equals": "red"}]))
    assert err.value.field == "exclude.0.field"
    for bad in ({"collections": []}, {"collections": ["a", "a"]}, {"weights": {"parts": 11}},
                {"limits": {"parts": 101}}, {"collections": "some"}, {"query": "  "}):
        with pytest.raises(ValidationError):
            req(**bad)


def test_exclusions_apply_to_the_collections_with_the_field(engine: SearchEngine) -> None:
    resp = search_collections(engine, req(
        limit=50, exclude=[{"name": "basic", "field": "library_type", "equals": "Basic"}]))
    assert resp.hits and all(h.record.get("library_type") != "Basic" for h in resp.hits)
    assert any(h.collection == "notes" for h in resp.hits)
    assert resp.excluded.get("request:basic", 0) > 0


def test_confidence_follows_the_nearest_records(engine: SearchEngine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    col = engine.collection("notes")
    near = col.vectors[0]  # a query equal to a record: cosine 1 with it
    monkeypatch.setattr(engine, "embed_query", lambda _t: near)
    assert confidence(engine, "notes", "x", "hybrid") > confidence(engine, "parts", "x", "hybrid")
    assert confidence(engine, "parts", "x", "lexical") == 1.0
    far = -near
    monkeypatch.setattr(engine, "embed_query", lambda _t: np.asarray(far, dtype=np.float32))
    assert confidence(engine, "notes", "x", "hybrid") == multi.MIN_CONFIDENCE


def test_lexical_mode_merges_raw_scores(engine: SearchEngine) -> None:
    resp = search_collections(engine, req(mode="lexical"))
    assert all(c.confidence == 1.0 for c in resp.per_collection.values())


def test_a_query_for_one_collection_puts_it_first(tmp_path: Path) -> None:
    """What `python -m eval collections` measures on the real data, in miniature: a query
    equal to a note's own text ranks that note above every part."""
    base = tmp_path
    result = build_two(base / "store", *sources(base))
    with open_snapshot(result.path) as s:
        engine = SearchEngine(s, HashingEncoder(64))
        text = "Thermal relief spokes make hand soldering of ground pads possible."
        resp = search_collections(engine, MultiSearchRequest(query=text, limit=5))
        assert (resp.hits[0].collection, resp.hits[0].id) == ("notes", "n4")
