"""``POST /v1/search``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.errors import SearchError, UnknownCollection
from snapsearch.search.types import SearchRequest, SearchResponse

from ..errors import ApiError
from ..holder import Loaded
from ..metrics import Metrics
from .common import loaded, read_model, unknown_collection
from .spec import api_route


async def run_search(request: Request, current: Loaded, req: SearchRequest) -> SearchResponse:
    """``req`` on ``current``'s engine, off the event loop (CPU bound: torch, numpy, hnswlib and
    sqlite release the GIL, so /livez and /readyz stay fast under load); the lifespan's limiter
    caps concurrent searches. Engine errors become ``ApiError``s."""
    limiter = getattr(request.state, "search_limiter", None)
    try:
        return await anyio.to_thread.run_sync(current.engine.search, req, limiter=limiter)
    except UnknownCollection:
        raise unknown_collection(current, req.collection) from None
    except SearchError as exc:
        raise ApiError(422, exc.code, exc.message, field=exc.field) from None


def routes(metrics: Metrics) -> list[BaseRoute]:
    async def search(request: Request) -> Response:
        current = loaded(request)
        req = await read_model(request, SearchRequest)
        access: dict[str, Any] = {"mode": req.mode, "query_chars": len(req.query)}
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
