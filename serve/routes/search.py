"""``POST /v1/search``."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.errors import SearchError, UnknownCollection
from snapsearch.search.multi import MultiSearchRequest
from snapsearch.search.types import SearchRequest, SearchResponse

from ..collections_api import search_collections_route
from ..errors import ApiError
from ..holder import Loaded
from ..metrics import Metrics
from ..policy import policy_of
from .common import loaded, parse_model, read_body, unknown_collection
from .spec import api_route


async def run_search(request: Request, current: Loaded, req: SearchRequest) -> SearchResponse:
    """``req`` on ``current``'s engine, off the event loop (CPU bound: torch, numpy, hnswlib and
    sqlite release the GIL, so /livez and /readyz stay fast under load); the lifespan's limiter
    caps concurrent searches. Engine errors become ``ApiError``s."""
    limiter = getattr(request.state, "search_limiter", None)
    policy = policy_of(request)
    kw = {"exclude": policy.rules} if policy.rules else {}
    try:
        resp = await anyio.to_thread.run_sync(
            partial(current.engine.search, req, **kw), limiter=limiter
        )
        policy.count(resp.excluded)  # hits the server's exclusion policy removed, by rule
        return resp
    except UnknownCollection:
        raise unknown_collection(current, req.collection) from None
    except SearchError as exc:
        raise ApiError(422, exc.code, exc.message, field=exc.field) from None


def _names_collections(body: bytes) -> bool:
    """A body with the key ``collections`` is a search over several collections. (Not JSON:
    False, and the one-collection parse explains what is wrong.)"""
    if b"collections" not in body:
        return False
    try:
        data = from_json(body)
    except ValueError:
        return False
    return isinstance(data, dict) and "collections" in data


def routes(metrics: Metrics) -> list[BaseRoute]:
    async def search(request: Request) -> Response:
        current = loaded(request)
        body = await read_body(request)
        if _names_collections(body):  # several collections, one answer (collections_api)
            multi = parse_model(body, MultiSearchRequest)
            return await search_collections_route(request, current, multi, metrics)
        req = parse_model(body, SearchRequest)
        access: dict[str, Any] = {"mode": req.mode, "query_chars": len(req.query)}
        if req.session_id is not None:
            access["session_id"] = req.session_id
        request.state.access = access
        resp = await run_search(request, current, req)
        metrics.searches.labels(req.mode, resp.match).inc()
        access.update(match=resp.match, hits=len(resp.hits))
        return Response(resp.model_dump_json(), media_type="application/json")

    return [
        api_route(
            "/v1/search", search, method="POST", summary="Search the current snapshot",
            description="Vector, lexical (BM25) or hybrid search over one collection, with "
            "hard filters checked against the collection's record kind. `match: none` is an "
            "answer (nothing matched), never an outage.",
            body=SearchRequest, ok=SearchResponse, errors=(400, 404, 413, 422, 503),
            tags=("search",),
        ),
    ]
