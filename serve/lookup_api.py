"""Lookup endpoints: ``POST /v1/lookup``, ``POST /v1/lookup/batch`` and ``/v1/records`` (by ids
or part numbers, ``GET ?ids=a,b`` or a ``POST`` body). The work is
``snapsearch.search.lookup``'s; this module is HTTP only."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from snapsearch.search.errors import SearchError
from snapsearch.search.lookup import (
    MAX_KEYS,
    LookupRequest,
    LookupResponse,
    RecordsRequest,
    RecordsResponse,
    get_records,
    lookup,
)

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
from .errors import ApiError
from .holder import Loaded
from .policy import Policy, policy_of

# each route's request and response models, for the API description (OpenAPI)
ROUTE_MODELS: dict[tuple[str, str], tuple[type[BaseModel], type[BaseModel]]] = {
    ("POST", "/v1/lookup"): (LookupRequest, LookupResponse),
    ("POST", "/v1/lookup/batch"): (BatchRequest, BatchResponse),
    ("GET", "/v1/records"): (RecordsRequest, RecordsResponse),
    ("POST", "/v1/records"): (RecordsRequest, RecordsResponse),
}


def _json(model: Any) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def _one(loaded: Loaded, policy: Policy, data: Any) -> Any:
    req = validate(LookupRequest, data)
    resp = lookup(loaded.engine, req, policy.rules)
    policy.count(resp.excluded)
    return resp


class LookupApi:
    """``/v1/lookup``, ``/v1/lookup/batch``, ``/v1/records``."""

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/lookup", self.lookup, methods=["POST"]),
            Route("/v1/lookup/batch", self.lookup_batch, methods=["POST"]),
            Route("/v1/records", self.records, methods=["GET", "POST"]),
        ]

    async def lookup(self, request: Request) -> Response:
        loaded = loaded_of(request)
        data = await read_json(request)
        req = validate(LookupRequest, data)
        policy = policy_of(request)
        request.state.access = {"collection": req.collection, "filters": sorted(req.filters),
                                "session_id": req.session_id}
        limiter = getattr(request.state, "search_limiter", None)
        try:
            resp = await anyio.to_thread.run_sync(
                partial(lookup, loaded.engine, req, policy.rules), limiter=limiter
            )
        except SearchError as exc:
            raise search_error(exc, loaded) from None
        policy.count(resp.excluded)
        request.state.access.update(total=resp.total, returned=len(resp.records))
        return _json(resp)

    async def lookup_batch(self, request: Request) -> Response:
        loaded = loaded_of(request)
        batch = validate(BatchRequest, await read_json(request, MAX_BATCH_BODY_BYTES))
        policy = policy_of(request)
        request.state.access = {"items": len(batch.items)}
        limiter = getattr(request.state, "search_limiter", None)
        results = await anyio.to_thread.run_sync(
            partial(run_items, request, loaded, batch.items, partial(_one, loaded, policy)),
            limiter=limiter,
        )
        request.state.access["errors"] = sum(1 for r in results if "error" in r)
        return JSONResponse({"results": results})

    async def records(self, request: Request) -> Response:
        loaded = loaded_of(request)
        if request.method == "GET":
            q = request.query_params
            unknown = sorted(set(q) - {"ids", "mpns", "collection"})
            if unknown:
                raise ApiError(422, "invalid_request",
                               f"unknown parameter {unknown[0]!r}; allowed: ids, mpns, collection",
                               field=unknown[0])
            data: Any = {
                "ids": _split(q.get("ids")), "mpns": _split(q.get("mpns")),
                **({"collection": q["collection"]} if "collection" in q else {}),
            }
        else:
            data = await read_json(request)
        req = validate(RecordsRequest, data)
        request.state.access = {"ids": len(req.ids), "mpns": len(req.mpns)}
        try:
            resp = await anyio.to_thread.run_sync(get_records, loaded.engine, req)
        except SearchError as exc:
            raise search_error(exc, loaded) from None
        request.state.access.update(found=len(resp.records),
                                    missing=len(resp.missing) + len(resp.missing_mpns))
        return _json(resp)


def _split(value: str | None) -> list[str]:
    """``a,b,,c`` -> [a, b, c]; more than MAX_KEYS keys are left to the model to refuse."""
    if not value:
        return []
    return [p.strip() for p in value.split(",", MAX_KEYS + 1) if p.strip()]
