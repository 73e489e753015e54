"""``POST /v1/context``: the best hits of several collections packed into compact JSON under a
token budget, for a language model. The work is ``snapsearch.search.context``'s; this module is
HTTP only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.context import ContextRequest, ContextResponse, build_context

from ..holder import Loaded
from ..policy import Policy, policy_of
from .common import blocking, json_response, loaded, read_model
from .spec import api_route


def _context(current: Loaded, policy: Policy, req: ContextRequest) -> ContextResponse:
    """Blocking; the server's exclusion policy applied and counted."""
    resp = build_context(current.engine, req, policy.rules)
    policy.count(resp.excluded)
    return resp


def routes() -> list[BaseRoute]:
    async def context(request: Request) -> Response:
        current = loaded(request)
        req = await read_model(request, ContextRequest)
        request.state.access = access = {"query_chars": len(req.query),
                                         "max_tokens": req.max_tokens,
                                         "session_id": req.session_id}
        resp = await blocking(request, current, _context, current, policy_of(request), req)
        access.update(session_id=resp.session_id, tokens=resp.tokens,
                      dropped=len(resp.trimmed.dropped))
        return json_response(resp)

    return [
        api_route(
            "/v1/context", context, method="POST", summary="Context for a language model",
            description="The best hits of each collection as compact JSON keyed by collection, "
            "never more tokens than `max_tokens` counted with the pinned model's own "
            "tokenizer: over budget the lowest-scored entries' text is shortened first, then "
            "entries are dropped (`trimmed` says which). `session_id` is generated when absent.",
            body=ContextRequest, ok=ContextResponse, errors=(400, 404, 413, 422, 503),
            tags=("search",),
        ),
    ]
