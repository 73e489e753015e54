"""``POST /v1/lookup`` (records by their fields, no query text) and ``POST /v1/lookup/batch``.
The work is ``snapsearch.search.lookup``'s; this module is HTTP only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.lookup import LookupRequest, LookupResponse, lookup

from ..holder import Loaded
from ..policy import Policy, policy_of
from .batch import LookupBatchRequest, LookupBatchResponse, answer_batch
from .common import blocking, json_response, loaded, read_model, validate
from .spec import api_route


def _lookup(current: Loaded, policy: Policy, req: LookupRequest) -> LookupResponse:
    """One lookup, blocking; the server's exclusion policy applied and counted."""
    resp = lookup(current.engine, req, policy.rules)
    policy.count(resp.excluded)
    return resp


def routes() -> list[BaseRoute]:
    async def lookup_one(request: Request) -> Response:
        current = loaded(request)
        req = await read_model(request, LookupRequest)
        access: dict[str, Any] = {"collection": req.collection, "filters": sorted(req.filters),
                                  "session_id": req.session_id}
        request.state.access = access
        resp = await blocking(request, current, _lookup, current, policy_of(request), req)
        access.update(total=resp.total, returned=len(resp.records))
        return json_response(resp)

    async def lookup_batch(request: Request) -> Response:
        results = await answer_batch(
            request, LookupBatchRequest,
            lambda current, policy, item: _lookup(current, policy, validate(LookupRequest, item)),
        )
        return json_response(LookupBatchResponse(results=results))

    return [
        api_route(
            "/v1/lookup", lookup_one, method="POST", summary="Records by their fields",
            description="No query text: the records of a collection that satisfy every filter "
            "exactly (a toleranced value's whole window inside a numeric range; `qty`: at least "
            "this many in stock), in the kind's default order (parts: Preferred, Basic, then "
            "stock descending, then id) or `sort`; `total` counted exactly.",
            body=LookupRequest, ok=LookupResponse, errors=(400, 404, 413, 422, 503),
            tags=("lookup",), name="lookup",
        ),
        api_route(
            "/v1/lookup/batch", lookup_batch, method="POST", summary="Several lookups at once",
            description="`{\"items\": [lookup, ...]}` (1 to 100; the body up to 1 MiB) -> "
            "`{\"results\": [...]}` in the items' order, each the lookup's response or its "
            "error in the one shape: one bad item never fails the batch.",
            body=LookupBatchRequest, ok=LookupBatchResponse, errors=(400, 413, 422, 503),
            tags=("lookup",),
        ),
    ]
