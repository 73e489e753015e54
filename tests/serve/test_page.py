"""The search page in-process (the browser test drives it for real): the form from the kind's
filter declarations, shareable URLs, paging, honest states, several collections, a cutover."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio.from_thread
import pytest
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.testclient import TestClient

from pipelines.fetch import fetch_source
from pipelines.transform.build import BuildOptions, CollectionSpec, build_snapshot
from serve.pageform import PAGE_SIZE, FormProblem, read_form, value_from_text
from snapsearch.format.model import HashingEncoder
from snapsearch.kinds.filters import AtLeast, Equals, NumericRanges, Positive
from snapsearch.kinds.parts.kind import PartsKind
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import SearchRequest, SearchResponse
from tests.conftest import pick, point_current, write_jsonl, write_passing_gates
from tests.serve.conftest import KNOWN_ID, holder_of

Build = Callable[..., str]
QUERY = "10k 0402 resistor 1%"


def hit_ids(html: str) -> list[str]:
    return re.findall(r'<li class="hit" data-id="([^"]+)"', html)


def links(html: str, element_id: str) -> str | None:
    m = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    return unescape(m.group(1)) if m else None


# -- the form from the kind's declarations -------------------------------------------------------

def test_widgets_follow_the_filter_declarations() -> None:
    form, problem = read_form(QueryParams(""), "parts", PartsKind().filter_specs())
    assert problem is None
    widgets = {f.name: f.widget for f in form.fields}
    assert widgets == {"category": "text", "subcategory": "text", "package": "text",
                       "library_type": "select", "manufacturer": "text", "in_stock": "checkbox",
                       "stock_min": "number", "qty": "number", "numeric": "ranges"}
    assert next(f for f in form.fields if f.name == "library_type").choices == (
        "Basic", "Preferred", "Extended")


def test_the_url_fills_the_request() -> None:
    params = QueryParams(
        "q=+10k+resistor+&mode=lexical&offset=20&limit=5&package=0402&in_stock=true&"
        "stock_min=100&library_type=Basic&numeric.attribute=Resistance&numeric.key=resistance&"
        "numeric.min=9900&numeric.max=10100&numeric.attribute=&numeric.key=&numeric.min=&"
        "numeric.max=&category=&ignored=1"
    )
    form, problem = read_form(params, "parts", PartsKind().filter_specs())
    assert problem is None
    assert form.request_body() == {
        "query": "10k resistor", "mode": "lexical", "collection": "parts", "limit": 5,
        "offset": 20, "filters": {
            "package": "0402", "library_type": "Basic", "in_stock": True, "stock_min": 100,
            "numeric": [{"attribute": "Resistance", "key": "resistance", "min": 9900.0,
                         "max": 10100.0}]}}
    SearchRequest.model_validate(form.request_body())
    # the shareable URL keeps what means something, drops blanks and unknown parameters
    url = form.url(offset=25)
    qs = parse_qs(urlparse(url).query)
    assert qs["offset"] == ["25"] and qs["q"] == [" 10k resistor "] and "ignored" not in qs
    assert "category" not in qs and qs["numeric.min"] == ["9900"]
    assert form.url(offset=0).count("offset") == 0


@pytest.mark.parametrize(("query", "field", "words"), [
    ("q=r&mode=psychic", "mode", ["psychic", "hybrid"]),
    ("q=r&offset=-1", "offset", ["whole number"]),
    ("q=r&offset=901", "offset", ["0 to 900"]),
    ("q=r&limit=abc", "limit", ["1 to 100"]),
    ("q=r&in_stock=maybe", "in_stock", ["true or false"]),
    ("q=r&stock_min=1e3", "stock_min", ["whole number"]),
    ("q=r&numeric.attribute=Resistance&numeric.min=1", "numeric.0", ["attribute", "key"]),
    ("q=r&numeric.attribute=R&numeric.key=r&numeric.max=ten", "numeric.0.max", ["number"]),
])
def test_bad_parameters_are_named(query: str, field: str, words: list[str]) -> None:
    form, problem = read_form(QueryParams(query), "parts", PartsKind().filter_specs())
    assert problem is not None and problem.field == field
    for word in words:
        assert word in problem.message


def test_values_from_text() -> None:
    assert value_from_text(Equals("package", "package", ""), "0402") == "0402"
    assert value_from_text(Positive("in_stock", "stock", ""), "Yes") is True
    assert value_from_text(Positive("in_stock", "stock", ""), "off") is False
    assert value_from_text(AtLeast("stock_min", "stock", ""), "100") == 100
    assert value_from_text(AtLeast("stock_min", "stock", ""), "100.0") == 100
    assert value_from_text(NumericRanges(), "Resistance:resistance::10100") == [
        {"attribute": "Resistance", "key": "resistance", "min": None, "max": 10100.0}]
    assert value_from_text(NumericRanges(), '{"attribute": "A", "key": "k", "min": 1}') == [
        {"attribute": "A", "key": "k", "min": 1}]
    with pytest.raises(FormProblem, match="whole number"):
        value_from_text(AtLeast("stock_min", "stock", ""), str(2**63))


# -- pages ------------------------------------------------------------------------------------

def test_results_page(client: TestClient, snapshot_id: str) -> None:
    r = client.get("/", params={"q": QUERY})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    ids = hit_ids(r.text)
    assert len(ids) == PAGE_SIZE and ids[0] == KNOWN_ID
    assert "package 0402" in r.text and "tolerance 1%" in r.text  # reasons
    assert 'class="bar"' in r.text and "dense" in r.text and "lexical" in r.text
    assert f"/records/{KNOWN_ID}?collection=parts" in r.text
    assert snapshot_id in r.text and 'href="/v1/snapshot"' in r.text
    assert "<script src" not in r.text and "http://" not in r.text.split("<main>")[0]
    # the next page is a URL with the same query, and continues the ranking
    nxt = links(r.text, "next")
    assert nxt is not None and parse_qs(urlparse(nxt).query)["q"] == [QUERY]
    second = client.get(nxt)
    assert hit_ids(second.text)[0] not in ids
    assert links(second.text, "prev") is not None


def test_the_page_and_the_api_agree(client: TestClient) -> None:
    page = hit_ids(client.get("/", params={"q": "ceramic capacitor", "package": "0805"}).text)
    api = client.post("/v1/search", json={"query": "ceramic capacitor",
                                          "filters": {"package": "0805"}}).json()
    assert page == [h["id"] for h in api["hits"]]


def test_no_query_shows_the_form(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and 'id="search-form"' in r.text and 'id="hits"' not in r.text


def test_no_match_is_said(client: TestClient) -> None:
    r = client.get("/", params={"q": "zzzzqqqq", "mode": "lexical"})
    assert r.status_code == 200 and 'id="no-match"' in r.text and hit_ids(r.text) == []


def test_weak_match_is_said(client: TestClient) -> None:
    r = client.get("/", params={"q": "the quick brown fox", "mode": "vector"})
    assert r.status_code == 200
    assert 'id="weak-match"' in r.text and "No good match" in r.text and hit_ids(r.text)


@pytest.mark.parametrize(("query", "status", "words"), [
    ({"q": "r", "stock_min": "lots"}, 422, ["stock_min", "lots"]),
    ({"q": "r", "library_type": "Gold"}, 422, ["Gold", "Basic"]),
    ({"library_type": "Gold"}, 422, ["Gold"]),  # checked without a query too
    ({"q": "x" * 600}, 422, ["512"]),
    ({"q": "r", "collection": "nope"}, 404, ["nope", "parts"]),
])
def test_problems_explain_themselves(client: TestClient, query: dict[str, str], status: int,
                                     words: list[str]) -> None:
    r = client.get("/", params=query)
    assert r.status_code == status and 'id="problem"' in r.text
    for word in words:
        assert word in unescape(r.text)


def test_input_is_escaped(client: TestClient) -> None:
    r = client.get("/", params={"q": '<script>alert("x")</script>', "package": '"><b>'})
    assert "<script>alert" not in r.text and '"><b>' not in r.text
    assert "&lt;script&gt;" in r.text


def test_record_page(client: TestClient) -> None:
    r = client.get(f"/records/{KNOWN_ID}")
    assert r.status_code == 200 and "0402WGF1002TCE" in r.text and "Resistance" in r.text
    assert f'href="/v1/records/{KNOWN_ID}?collection=parts"' in r.text
    missing = client.get("/records/C0")
    assert missing.status_code == 404 and 'id="problem"' in missing.text and "C0" in missing.text
    assert client.get(f"/records/{KNOWN_ID}?collection=nope").status_code == 404


def test_back_link_only_to_this_server(client: TestClient) -> None:
    r = client.get(f"/records/{KNOWN_ID}", headers={"referer": "https://evil.example/x"})
    assert "evil.example" not in r.text
    r = client.get(f"/records/{KNOWN_ID}", headers={"referer": "http://testserver/?q=r"})
    assert 'href="http://testserver/?q=r"' in r.text


def test_not_ready_page(make_app: Callable[..., Starlette], store: Path) -> None:
    client = TestClient(make_app(store))  # lifespan not run: no snapshot
    r = client.get("/?q=resistor")
    assert r.status_code == 503 and "starting" in r.text and 'id="problem"' in r.text


# -- several collections -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_collections(tmp_path_factory: pytest.TempPathFactory, sample_lines: list[str]) -> Path:
    root = tmp_path_factory.mktemp("two") / "snapshots"
    src = tmp_path_factory.mktemp("src")
    parts = src / "parts.jsonl"
    parts.write_text("".join(pick(sample_lines, 0, 100)), encoding="utf-8")
    docs = write_jsonl(src / "docs.jsonl", [
        {"_id": f"d{i}", "title": f"Note {i} on {w}", "text": f"A note about {w} and more."}
        for i, w in enumerate(["resistors", "capacitors", "crystals", "diodes"] * 5)])
    specs = [CollectionSpec("parts", "parts", fetch_source(str(parts), root)),
             CollectionSpec("docs", "text", fetch_source(str(docs), root))]
    result = build_snapshot(root, specs, HashingEncoder(64), BuildOptions())
    write_passing_gates(root / result.snapshot_id)  # as publish does: only a gated one is served
    point_current(root, result.snapshot_id)
    return root


def test_each_collection_gets_its_kinds_filters(make_app: Callable[..., Starlette],
                                               two_collections: Path) -> None:
    with TestClient(make_app(two_collections)) as client:
        parts = client.get("/", params={"q": "resistor", "collection": "parts"}).text
        assert 'id="collection"' in parts and 'id="f-package"' in parts
        assert '<option value="parts" selected>' in parts
        docs = client.get("/", params={"q": "note about crystals"})  # the first collection
        assert '<option value="docs" selected>' in docs.text
        assert docs.status_code == 200
        assert 'id="f-package"' not in docs.text and 'id="filters"' not in docs.text
        assert hit_ids(docs.text) and "Note" in docs.text
        assert "/records/d" in docs.text and "collection=docs" in docs.text
        # a filter of another kind is no parameter of this one: ignored, not an error
        assert client.get("/", params={"q": "note", "collection": "docs",
                                       "package": "0402"}).status_code == 200
        assert client.get("/records/d2?collection=docs").status_code == 200


# -- a cutover ---------------------------------------------------------------------------------

def test_a_request_uses_one_snapshot_across_a_cutover(
    make_app: Callable[..., Starlette], build: Build, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "snapshots"
    first = build(root, 0, 200)
    second = build(root, 100, 300, minutes=5, publish=False)
    write_passing_gates(root / second)  # validated, about to be published
    real = SearchEngine.search
    moved: list[str] = []

    with TestClient(make_app(root)) as client:
        holder = holder_of(client)

        def search_then_cut_over(
            self: SearchEngine, req: SearchRequest, **kw: Any
        ) -> SearchResponse:
            resp = real(self, req, **kw)
            if not moved:  # publish lands while this request is being answered
                point_current(root, second)
                moved.append(second)
                assert anyio.from_thread.run(holder.maybe_reload)
            return resp

        monkeypatch.setattr(SearchEngine, "search", search_then_cut_over)
        during = client.get("/", params={"q": "resistor"})
        after = client.get("/", params={"q": "resistor"})

    def footer_id(html: str) -> str:
        m = re.search(r'id="snapshot-link"[^>]*><code>([^<]+)</code>', html)
        assert m is not None
        return m.group(1)

    assert during.status_code == after.status_code == 200
    assert footer_id(during.text) == first  # results and footer from the snapshot it began on
    assert footer_id(after.text) == second
    assert hit_ids(during.text) and hit_ids(after.text)


def test_record_links_are_quoted(client: TestClient) -> None:
    r = client.get("/records/a%3Cb%3E%22")
    assert r.status_code == 404 and "a&lt;b&gt;&#34;" in r.text


def test_page_in_the_access_log(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="snapsearch.access"):
        client.get("/", params={"q": "resistor"})
    found: list[Any] = [r for r in caplog.records if r.name == "snapsearch.access"]
    assert found
