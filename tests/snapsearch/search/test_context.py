"""Context under a token budget: compact JSON keyed by collection, counted with the pinned
model's tokenizer, never over ``max_tokens``; over budget the lowest-priority entries' text is
shortened first, then entries are dropped; ``newest`` orders by the kind's recency field."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.context import (
    ELLIPSIS,
    MIN_TEXT_CHARS,
    ContextRequest,
    build_context,
    compact,
    token_counter,
    tokenizer_file,
)
from snapsearch.search.engine import SearchEngine
from tests.multistore import build_two, sources


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchEngine]:
    base = tmp_path_factory.mktemp("context")
    result = build_two(base / "store", *sources(base))
    with open_snapshot(result.path) as snap:
        yield SearchEngine(snap, HashingEncoder(64))


@pytest.fixture(scope="module")
def count(engine: SearchEngine):  # type: ignore[no-untyped-def]
    return token_counter(tokenizer_file(engine.snapshot))


def ctx(engine: SearchEngine, **kw: object):  # type: ignore[no-untyped-def]
    return build_context(engine, ContextRequest(**{"query": "resistor for I2C pull-up", **kw}))


def test_the_pinned_models_tokenizer_counts() -> None:
    count = token_counter(tokenizer_file(None))
    assert tokenizer_file(None).name == "tokenizer.json"
    assert count("hello world") == 2
    assert count("x " * 1000) == 1000  # no truncation at the model's 128/256 tokens
    assert count("") == 0


def test_a_roomy_budget_keeps_everything(engine: SearchEngine, count) -> None:  # type: ignore[no-untyped-def]
    resp = ctx(engine, max_tokens=20000, per_collection_k=3)
    assert set(resp.context) == {"parts", "notes"}
    assert [len(v) for v in resp.context.values()] == [3, 3]
    entry = resp.context["notes"][0]
    assert {"id", "score", "reasons", "title", "snippet"} <= set(entry)
    assert resp.trimmed.shortened == [] and resp.trimmed.dropped == []
    assert resp.tokens == count(compact(resp.context)) <= 20000
    assert len(resp.session_id) == 32  # generated
    assert ctx(engine, session_id="s-1").session_id == "s-1"


@pytest.mark.parametrize("budget", [16, 40, 80, 150, 250, 400, 800])
def test_never_more_tokens_than_max_tokens(engine: SearchEngine, count, budget: int) -> None:  # type: ignore[no-untyped-def]
    resp = ctx(engine, max_tokens=budget, per_collection_k=5)
    assert resp.tokens == count(compact(resp.context)) <= budget
    kept = {(c, e["id"]) for c, es in resp.context.items() for e in es}
    dropped = {(d.collection, d.id) for d in resp.trimmed.dropped}
    assert not kept & dropped and len(kept) + len(dropped) == 10


def test_shorten_the_lowest_scored_first_then_drop(engine: SearchEngine, count) -> None:  # type: ignore[no-untyped-def]
    full = ctx(engine, max_tokens=20000, per_collection_k=5)
    score = {(c, e["id"]): e["score"] for c, es in full.context.items() for e in es}
    lowest = min(score.values())
    budget = full.tokens - 40
    resp = ctx(engine, max_tokens=budget, per_collection_k=5)
    assert resp.trimmed.dropped == []
    shortened = [(s.collection, s.id) for s in resp.trimmed.shortened]
    assert shortened and score[shortened[0]] == lowest  # the lowest scored first
    assert max(score[k] for k in shortened) <= min(
        v for k, v in score.items() if k not in shortened)  # never a higher one before it
    cut = [e for es in resp.context.values() for e in es if any(
        isinstance(v, str) and v.endswith(ELLIPSIS) for v in e.values())]
    assert len(cut) == len(shortened)
    tight = ctx(engine, max_tokens=120, per_collection_k=5)
    dropped = [(d.collection, d.id) for d in tight.trimmed.dropped]
    assert dropped and score[dropped[0]] == lowest
    kept_scores = [e["score"] for es in tight.context.values() for e in es]
    assert min(kept_scores, default=1.0) >= max(score[k] for k in dropped)


def test_shortened_text_keeps_a_minimum(engine: SearchEngine) -> None:
    resp = ctx(engine, max_tokens=200, per_collection_k=5)
    for es in resp.context.values():
        for e in es:
            for v in e.values():
                if isinstance(v, str) and v.endswith(ELLIPSIS):
                    assert len(v) >= MIN_TEXT_CHARS


def test_newest_first(engine: SearchEngine) -> None:
    resp = ctx(engine, collections=["notes"], prioritise="newest", per_collection_k=5,
               max_tokens=5000, query="notes")
    dates = [e.get("created_at") for e in resp.context["notes"]]
    known = [d for d in dates if d]
    assert known == sorted(known, reverse=True) and dates[-1] is None  # n4 has no date
    tight = ctx(engine, collections=["notes"], prioritise="newest", per_collection_k=5,
                max_tokens=60, query="notes")
    assert tight.trimmed.dropped and tight.trimmed.dropped[0].id == "n4"  # the oldest goes


def test_bad_requests() -> None:
    for bad in ({"max_tokens": 8}, {"per_collection_k": 0}, {"prioritise": "oldest"},
                {"collections": []}, {"query": ""}, {"colour": 1}):
        with pytest.raises(ValidationError):
            ContextRequest(**{"query": "q", **bad})  # type: ignore[arg-type]


def test_the_context_is_compact_json(engine: SearchEngine) -> None:
    resp = ctx(engine, max_tokens=1000)
    text = compact(resp.context)
    assert json.loads(text) == resp.context
    assert text == json.dumps(resp.context, separators=(",", ":"), ensure_ascii=False)
