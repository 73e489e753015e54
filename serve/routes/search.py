"""``POST /v1/search`` (one collection, or several: a body with ``collections``) and
``POST /v1/search/batch``. The work is ``snapsearch.search``'s (the engine, and ``multi`` for
several collections merged by calibrated scores); this module is HTTP only."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.multi import MultiSearchRequest, MultiSearchResponse, search_collections
from snapsearch.search.types import SearchRequest, SearchResponse

from ..holder import Loaded
from ..metrics import Metrics
from ..policy import Policy, policy_of
from .batch import SearchBatchRequest, SearchBatchResponse, answer_batch
from .common import (
    blocking,
    json_response,
    loaded,
    parse_model,
    read_body,
    validate,
)
from .spec import api_route


def _search(current: Loaded, policy: Policy, req: SearchRequest) -> SearchResponse:
    """One collection, blocking; the server's exclusion policy applied and counted."""
    kw = {"exclude": policy.rules} if policy.rules else {}
    resp = current.engine.search(req, **kw)
    policy.count(resp.excluded)  # hits the server's exclusion policy removed, by rule
    return resp


def _search_several(current: Loaded, policy: Policy,
                    req: MultiSearchRequest) -> MultiSearchResponse:
    """Several collections, one answer, blocking; the policy applied and counted."""
    resp = search_collections(current.engine, req, policy.rules)
    policy.count(resp.excluded)
    return resp


async def run_search(request: Request, current: Loaded, req: SearchRequest) -> SearchResponse:
    """``req`` on ``current``'s engine, off the event loop; the lifespan's limiter caps concurrent
    searches. Engine errors become ``ApiError``s. (The search page's search too.)"""
    return await blocking(request, current, _search, current, policy_of(request), req)


def names_collections(data: Any) -> bool:
    """A search body with the key ``collections`` is a search over several collections."""
    return isinstance(data, dict) and "collections" in data


def _names_collections(body: bytes) -> bool:
    """``names_collections`` of a body not parsed yet. (Not JSON: False, and the one-collection
    parse explains what is wrong.)"""
    if b"collections" not in body:
        return False
    try:
        data = from_json(body)
    except ValueError:
        return False
    return names_collections(data)


def answer_search(current: Loaded, policy: Policy, metrics: Metrics,
                  data: Any) -> SearchResponse | MultiSearchResponse:
    """One search of a batch (one collection or several), blocking."""
    resp: SearchResponse | MultiSearchResponse
    if names_collections(data):
        resp = _search_several(current, policy, validate(MultiSearchRequest, data))
    else:
        resp = _search(current, policy, validate(SearchRequest, data))
    metrics.searches.labels(resp.mode, resp.match).inc()
    return resp


def routes(metrics: Metrics) -> list[BaseRoute]:
    async def search(request: Request) -> Response:
        current = loaded(request)
        body = await read_body(request)
        access: dict[str, Any]
        resp: SearchResponse | MultiSearchResponse
        if _names_collections(body):  # several collections, one answer
            multi = parse_model(body, MultiSearchRequest)
            access = {"mode": multi.mode, "query_chars": len(multi.query),
                      "collections": multi.collections, "session_id": multi.session_id}
            request.state.access = access
            resp = await blocking(request, current, _search_several, current,
                                  policy_of(request), multi)
        else:
            req = parse_model(body, SearchRequest)
            access = {"mode": req.mode, "query_chars": len(req.query)}
            if req.session_id is not None:
                access["session_id"] = req.session_id
            request.state.access = access
            resp = await run_search(request, current, req)
        metrics.searches.labels(resp.mode, resp.match).inc()
        access.update(match=resp.match, hits=len(resp.hits))
        return json_response(resp)

    async def search_batch(request: Request) -> Response:
        results = await answer_batch(
            request, SearchBatchRequest,
            lambda current, policy, item: answer_search(current, policy, metrics, item),
        )
        return json_response(SearchBatchResponse(results=results))

    return [
        api_route(
            "/v1/search", search, method="POST", summary="Search the current snapshot",
            description="Vector, lexical (BM25) or hybrid search over one collection "
            "(SearchRequest -> SearchResponse), with hard filters checked against the "
            "collection's record kind; or, when the body has `collections`, over several "
            "collections merged by their calibrated [0, 1] scores, every hit naming its "
            "collection (MultiSearchRequest -> MultiSearchResponse). `match: none` is an "
            "answer (nothing matched), never an outage.",
            body=(SearchRequest, MultiSearchRequest), ok=(SearchResponse, MultiSearchResponse),
            errors=(400, 404, 413, 422, 503), tags=("search",),
        ),
        api_route(
            "/v1/search/batch", search_batch, method="POST", summary="Several searches at once",
            description="`{\"items\": [search, ...]}` (1 to 100; the body up to 1 MiB) -> "
            "`{\"results\": [...]}` in the items' order, each the search's response or its "
            "error in the one shape: one bad item never fails the batch.",
            body=SearchBatchRequest, ok=SearchBatchResponse, errors=(400, 413, 422, 503),
            tags=("search",),
        ),
    ]
