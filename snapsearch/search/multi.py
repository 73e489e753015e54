"""Several collections, one answer: each collection searched on its own, the hits merged by a
calibrated score.

A collection's own scores are relative to that collection (its best hit is near 1 whatever the
query), so they cannot be merged as they are: a text corpus's best answer to "10k 0402 resistor"
would tie the catalogue's. Each collection gets a **confidence** in [0, 1] for the query: how near
the query's embedding lies to the collection's nearest record (its cosine, an absolute figure,
mapped linearly from ``COSINE_NONE`` -> ``MIN_CONFIDENCE`` to ``COSINE_FULL`` -> 1; the pinned
model puts unrelated text at cosines of about 0.0-0.2 and a collection that answers the query
at 0.4 and above; figures in docs/benchmarks.md). A hit's merged score is::

    min(1, score in its collection * confidence * weight * (1 + 0.1 * collection prior))

``weight`` is the request's ``weights[collection]``, else the default the build settings gave
(``SNAPSEARCH_COLLECTION_WEIGHTS``, recorded in the manifest), else 1. Lexical mode embeds
nothing: every confidence is 1 there. Within a collection the order never changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .engine import SearchEngine
from .errors import SearchError, UnknownCollection
from .exclusion import MAX_RULES, Rule, applicable, parse_rules, queryable_fields
from .priors import collection_factor
from .types import (
    EXCLUDE_DESCRIPTION,
    MAX_COLLECTIONS,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    NOT_BLANK,
    SESSION_PATTERN,
    Hit,
    Integer,
    Mode,
    SearchRequest,
    SearchResponse,
    collections_schema,
    exclude_schema,
    filters_by_collection_schema,
    not_blank_query,
    values_schema,
)

COSINE_NONE = 0.10
COSINE_FULL = 0.50
MIN_CONFIDENCE = 0.02
MAX_WEIGHT = 10.0


def _collections_named(schema: dict[str, Any]) -> None:
    """Over HTTP the key ``collections`` is what makes a search body this one (``POST
    /v1/search``, a batch's item): the document says it is required there."""
    schema["required"] = [*schema.get("required", []), "collections"]


class MultiSearchRequest(BaseModel):
    """``POST /v1/search`` with ``collections``: several collections, one answer."""

    # strict, as SearchRequest is: nothing is coerced ("limit": "10" is refused)
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_collections_named)

    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, description="what to search for, in words",
        json_schema_extra={"pattern": NOT_BLANK.pattern},
    )
    collections: list[str] | Literal["all"] = Field(
        default="all", description="the collections to search, or \"all\"",
        json_schema_extra=collections_schema(unique=True),
    )
    limit: Integer = Field(default=10, ge=1, le=MAX_LIMIT)
    offset: Integer = Field(default=0, ge=0, le=MAX_OFFSET)
    mode: Mode = "hybrid"
    filters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="hard filters per collection: {collection: filters}",
        json_schema_extra=filters_by_collection_schema,
    )
    limits: dict[str, Integer] = Field(
        default_factory=dict, description="the most hits a collection contributes: {collection: n}",
        json_schema_extra=values_schema({"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="a collection's weight (0 to 10; default: the snapshot's, else 1)",
        json_schema_extra=values_schema({"type": "number", "minimum": 0, "maximum": MAX_WEIGHT}),
    )
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="on the merged score")
    exclude: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_RULES, description=EXCLUDE_DESCRIPTION,
        json_schema_extra=exclude_schema,
    )
    session_id: str | None = Field(default=None, max_length=128, pattern=SESSION_PATTERN)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return not_blank_query(v)

    @field_validator("collections")
    @classmethod
    def _names(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, list):
            if not 1 <= len(v) <= MAX_COLLECTIONS:
                raise ValueError(f"give 1 to {MAX_COLLECTIONS} collections, or \"all\"")
            if len(set(v)) != len(v):
                raise ValueError("a collection is named twice")
        return v

    @field_validator("limits")
    @classmethod
    def _limits(cls, v: dict[str, int]) -> dict[str, int]:
        for name, n in v.items():
            if not 0 <= n <= MAX_LIMIT:
                raise ValueError(f"limits.{name} is {n}: a limit is 0 to {MAX_LIMIT}")
        return v

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for name, w in v.items():
            if not 0.0 <= w <= MAX_WEIGHT:
                raise ValueError(f"weights.{name} is {w}: a weight is 0 to {MAX_WEIGHT}")
        return v


class MultiHit(Hit):
    collection: str


class CollectionResult(BaseModel):
    match: Literal["good", "weak", "none"]
    total_candidates: int
    confidence: float  # [0, 1]: how near the query lies to this collection
    weight: float
    returned: int  # hits of this collection in this page


class MultiSearchResponse(BaseModel):
    query: str
    mode: Mode
    collections: list[str]
    snapshot_id: str
    match: Literal["good", "weak", "none"]
    hits: list[MultiHit]
    per_collection: dict[str, CollectionResult]
    offset: int
    limit: int
    took_ms: float
    excluded: dict[str, int] = Field(default_factory=dict, exclude=True)


@dataclass
class Searched:
    """One collection's part of a multi-collection answer."""

    name: str
    response: SearchResponse
    hits: list[Hit]
    confidence: float
    weight: float
    factor: float  # the collection's feedback prior

    def merged(self, hit: Hit) -> float:
        return min(1.0, max(0.0, hit.score * self.confidence * self.weight * self.factor))


# -- the parts ------------------------------------------------------------------------------------


def resolve(engine: SearchEngine, names: Sequence[str] | str | None) -> list[str]:
    """The collections asked for, in the snapshot's order when "all" (or None)."""
    have = list(engine.snapshot.collections)
    if names is None or names == "all":
        return have
    for n in names:
        if n not in have:
            raise UnknownCollection(n, have)
    return list(names)


def check_keys(kind: str, given: Iterable[str], names: Sequence[str]) -> None:
    """Per-collection options name collections of this search."""
    for n in given:
        if n not in names:
            raise SearchError(
                f"{kind}.{n}: {n!r} is not one of the collections searched ({', '.join(names)})",
                field=f"{kind}.{n}",
            )


def confidence(engine: SearchEngine, name: str, query: str, mode: str) -> float:
    """How near ``query`` lies to collection ``name``: [MIN_CONFIDENCE, 1] (1 in lexical mode)."""
    if mode == "lexical":
        return 1.0
    col = engine.collection(name)
    if col.count == 0:
        return MIN_CONFIDENCE
    qvec = engine.embed_query(query)
    _, sims = col.ann.query(qvec, 1)
    top = float(np.max(sims)) if len(sims) else 0.0
    scaled = (top - COSINE_NONE) / (COSINE_FULL - COSINE_NONE)
    return round(min(1.0, max(MIN_CONFIDENCE, scaled)), 6)


def default_weight(engine: SearchEngine, name: str) -> float:
    weights = engine.snapshot.manifest.collection_weights or {}
    return float(weights.get(name, 1.0))


def request_rules(
    engine: SearchEngine, raw: list[dict[str, Any]], names: Sequence[str]
) -> list[Rule]:
    """The request's rules; each must read a field of at least one collection searched."""
    rules = parse_rules(raw or None)
    fields = {f for n in names for f in queryable_fields(engine.kind(n))}
    for i, r in enumerate(rules):
        if r.field not in fields:
            raise SearchError(
                f"exclude.{i}.field: no collection searched has a field {r.field!r}; their "
                f"fields: {', '.join(sorted(fields))}", field=f"exclude.{i}.field",
            )
    return rules


def search_one(
    engine: SearchEngine, name: str, query: str, k: int, *, mode: Mode,
    filters: dict[str, Any], rules: Sequence[Rule],
) -> SearchResponse:
    """The top ``k`` hits of one collection (pages of at most MAX_LIMIT; k may be 0)."""
    kind = engine.kind(name)
    use = applicable(rules, kind)
    hits: list[Hit] = []
    first: SearchResponse | None = None
    excluded: dict[str, int] = {}
    offset = 0
    while True:
        size = max(1, min(MAX_LIMIT, k - offset))
        req = SearchRequest(query=query, limit=size, offset=offset, mode=mode,
                            collection=name, filters=filters)
        resp = engine.search(req, exclude=use)
        first = first or resp
        for key, n in resp.excluded.items():
            excluded[key] = max(excluded.get(key, 0), n)
        hits += resp.hits[: max(0, k - offset)]
        offset += size
        if len(resp.hits) < size or offset >= k or offset > MAX_OFFSET:
            break
    return first.model_copy(update={"hits": hits, "excluded": excluded})


def search_each(
    engine: SearchEngine, query: str, names: Sequence[str], k: dict[str, int], *, mode: Mode,
    filters: dict[str, dict[str, Any]], weights: dict[str, float], rules: Sequence[Rule],
) -> list[Searched]:
    out = []
    for n in names:
        resp = search_one(engine, n, query, k[n], mode=mode, filters=filters.get(n, {}),
                          rules=rules)
        out.append(Searched(
            n, resp, resp.hits, confidence(engine, n, query, mode),
            weights.get(n, default_weight(engine, n)), collection_factor(engine.snapshot, n),
        ))
    return out


def merged_hits(parts: Sequence[Searched]) -> list[MultiHit]:
    """Every collection's hits by merged score (ties: the collections' order, then rank)."""
    ranked = []
    for ci, p in enumerate(parts):
        for rank, h in enumerate(p.hits):
            score = p.merged(h)
            hit = MultiHit(
                id=h.id, collection=p.name, score=round(score, 6),
                scores={**h.scores, "collection": h.score, "confidence": p.confidence},
                reasons=[*h.reasons, f"collection {p.name} {p.confidence:.2f}"],
                record=h.record,
            )
            ranked.append((-score, ci, rank, hit))
    ranked.sort(key=lambda t: (t[0], t[1], t[2]))
    return [t[3] for t in ranked]


def _best_match(matches: Iterable[str]) -> Literal["good", "weak", "none"]:
    got = set(matches)
    return "good" if "good" in got else "weak" if "weak" in got else "none"


def combine_excluded(parts: Iterable[Searched]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in parts:
        for key, n in p.response.excluded.items():
            out[key] = out.get(key, 0) + n
    return out


# -- the entry point ------------------------------------------------------------------------------


def search_collections(
    engine: SearchEngine, req: MultiSearchRequest, policy: Sequence[Rule] = (),
) -> MultiSearchResponse:
    t0 = time.perf_counter()
    names = resolve(engine, req.collections)
    for kind, given in (("filters", req.filters), ("limits", req.limits),
                        ("weights", req.weights)):
        check_keys(kind, given, names)
    rules = [*request_rules(engine, req.exclude, names), *policy]
    depth = req.offset + req.limit
    k = {n: min(req.limits.get(n, depth), depth) for n in names}
    parts = search_each(engine, req.query, names, k, mode=req.mode, filters=req.filters,
                        weights=req.weights, rules=rules)
    ranked = [h for h in merged_hits(parts) if h.score >= req.min_score]
    page = ranked[req.offset : req.offset + req.limit]
    per = {
        p.name: CollectionResult(
            match=p.response.match, total_candidates=p.response.total_candidates,
            confidence=p.confidence, weight=p.weight,
            returned=sum(1 for h in page if h.collection == p.name),
        )
        for p in parts
    }
    return MultiSearchResponse(
        query=req.query, mode=req.mode, collections=names,
        snapshot_id=engine.snapshot.snapshot_id,
        match="none" if not ranked else _best_match(p.response.match for p in parts),
        hits=page, per_collection=per, offset=req.offset, limit=req.limit,
        took_ms=round((time.perf_counter() - t0) * 1000, 3), excluded=combine_excluded(parts),
    )
