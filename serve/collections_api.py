"""Several collections in one answer, batches of searches, and context for a language model:
``POST /v1/search`` with ``collections`` (the search route hands such a body here),
``POST /v1/search/batch`` and ``POST /v1/context``. The work is ``snapsearch.search.multi`` and
``snapsearch.search.context``'s; this module is HTTP only."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from snapsearch.search.context import ContextRequest, ContextResponse, build_context
from snapsearch.search.errors import SearchError
from snapsearch.search.multi import MultiSearchRequest, MultiSearchResponse, search_collections
from snapsearch.search.types import SearchRequest

from .bodies import (
    MAX_BATCH_BODY_BYTES,
    BatchRequest,
    BatchResponse,
    loaded_of,
    read_json,
    run_items,
    search_error,
    validate,
)
from .holder import Loaded
from .metrics import Metrics
from .policy import Policy, policy_of

ROUTE_MODELS: dict[tuple[str, str], tuple[type[BaseModel], type[BaseModel]]] = {
    ("POST", "/v1/search/batch"): (BatchRequest, BatchResponse),
    ("POST", "/v1/context"): (ContextRequest, ContextResponse),
}
# /v1/search also takes MultiSearchRequest (a body with "collections") -> MultiSearchResponse
SEARCH_ALTERNATIVE = (MultiSearchRequest, MultiSearchResponse)


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def is_multi(data: Any) -> bool:
    """A search body naming ``collections`` is a multi-collection search."""
    return isinstance(data, dict) and "collections" in data


def answer_search(loaded: Loaded, policy: Policy, metrics: Metrics | None, data: Any) -> Any:
    """One search (one collection or several), blocking: what a batch item gets."""
    if is_multi(data):
        multi = validate(MultiSearchRequest, data)
        resp: Any = search_collections(loaded.engine, multi, policy.rules)
    else:
        req = validate(SearchRequest, data)
        kw = {"exclude": policy.rules} if policy.rules else {}
        resp = loaded.engine.search(req, **kw)
    policy.count(resp.excluded)
    if metrics is not None:
        metrics.searches.labels(resp.mode, resp.match).inc()
    return resp


async def search_collections_route(request: Request, loaded: Loaded, req: MultiSearchRequest,
                                   metrics: Metrics) -> Response:
    """``POST /v1/search`` with ``collections``."""
    policy = policy_of(request)
    request.state.access = {"mode": req.mode, "query_chars": len(req.query),
                            "collections": req.collections, "session_id": req.session_id}
    limiter = getattr(request.state, "search_limiter", None)
    try:
        resp = await anyio.to_thread.run_sync(
            partial(search_collections, loaded.engine, req, policy.rules), limiter=limiter
        )
    except SearchError as exc:
        raise search_error(exc, loaded) from None
    policy.count(resp.excluded)
    metrics.searches.labels(resp.mode, resp.match).inc()
    request.state.access.update(match=resp.match, hits=len(resp.hits))
    return _json(resp)


class CollectionsApi:
    """``/v1/search/batch`` and ``/v1/context``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/search/batch", self.search_batch, methods=["POST"]),
            Route("/v1/context", self.context, methods=["POST"]),
        ]

    async def search_batch(self, request: Request) -> Response:
        loaded = loaded_of(request)
        batch = validate(BatchRequest, await read_json(request, MAX_BATCH_BODY_BYTES))
        policy = policy_of(request)
        request.state.access = {"items": len(batch.items)}
        limiter = getattr(request.state, "search_limiter", None)
        answer = partial(answer_search, loaded, policy, self.metrics)
        results = await anyio.to_thread.run_sync(
            partial(run_items, request, loaded, batch.items, answer), limiter=limiter
        )
        request.state.access["errors"] = sum(1 for r in results if "error" in r)
        return JSONResponse({"results": results})

    async def context(self, request: Request) -> Response:
        loaded = loaded_of(request)
        req = validate(ContextRequest, await read_json(request))
        policy = policy_of(request)
        request.state.access = {"query_chars": len(req.query), "max_tokens": req.max_tokens,
                                "session_id": req.session_id}
        limiter = getattr(request.state, "search_limiter", None)
        try:
            resp: ContextResponse = await anyio.to_thread.run_sync(
                partial(build_context, loaded.engine, req, policy.rules), limiter=limiter
            )
        except SearchError as exc:
            raise search_error(exc, loaded) from None
        policy.count(resp.excluded)
        request.state.access.update(session_id=resp.session_id, tokens=resp.tokens,
                                    dropped=len(resp.trimmed.dropped))
        return _json(resp)
