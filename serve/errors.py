"""One JSON error shape for every error, on every endpoint::

    {"error": {"code": "...", "message": "...", "field": "<dotted path or null>",
               "request_id": "..."}}

Routes raise ``ApiError``; the router's 404/405 arrive as ``HTTPException``; anything else is
a 500 ``internal`` with no traceback in the body (the traceback goes to the log). The 404's
message lists the app's routes, read from the routes themselves. The shape is the pydantic
model ``ErrorBody``: the handlers build it and the OpenAPI document is generated from it.

``ErrorGuard`` (the outermost middleware) answers an exception itself and never re-raises it:
a server that sees an exception after a response closes the kept-alive connection, and the
client's next request on it would be reset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

log = logging.getLogger("snapsearch.serve")


class ApiError(Exception):
    """An error answered in the one JSON shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def not_ready() -> ApiError:
    return ApiError(
        503, "not_ready",
        "no snapshot is loaded yet: the server is starting (retry shortly, or see GET /readyz)",
    )


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="what went wrong, as a stable word (e.g. invalid_request)")
    message: str = Field(description="what went wrong and how to fix it, in one sentence")
    field: str | None = Field(description="the dotted path of the field at fault, if one is")
    request_id: str | None = Field(description="the x-request-id of this request")


class ErrorBody(BaseModel):
    """Every error, on every endpoint."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def _printable(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (from a client's input) is escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_model(
    code: str, message: str, field: str | None, request_id: str | None
) -> ErrorBody:
    """The one shape (a batch item's error is this too)."""
    detail = ErrorDetail(
        code=code, message=_printable(message),
        field=None if field is None else _printable(field), request_id=request_id,
    )
    return ErrorBody(error=detail)


def error_body(
    code: str, message: str, field: str | None, request_id: str | None
) -> dict[str, Any]:
    return error_model(code, message, field, request_id).model_dump(mode="json")


def request_id_of(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    rid = request_id_of(request)
    request.state.error_code = code
    out = dict(headers or {})
    if rid is not None:
        out["x-request-id"] = rid
    return JSONResponse(error_body(code, message, field, rid), status_code=status, headers=out)


# -- handlers -----------------------------------------------------------------------------


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        request, exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers
    )


def describe_routes(routes: Sequence[BaseRoute]) -> str:
    """``POST /v1/search, GET /livez, ...`` in the routes' order (HEAD, implied by GET, is left
    out)."""
    out = []
    for route in routes:
        if isinstance(route, Route):
            methods = sorted(m for m in route.methods or () if m != "HEAD") or ["HEAD"]
            out += [f"{m} {route.path}" for m in methods]
    return ", ".join(out)


def _allowed(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The methods the routes of ``scope``'s path answer (``GET, HEAD, POST``)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


def http_exception_handler(routes: Sequence[BaseRoute]) -> ExceptionHandler:
    """The router's 404 (naming every route) and 405, and any other ``HTTPException``."""
    listed = describe_routes(routes)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        method, path = request.method, request.url.path
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            code = "route_not_found"
            message = f"no route {method} {path}; routes: {listed}"
        elif exc.status_code == 405:
            # every route of this path (one route per method): the router reports only the first
            allowed = _allowed(routes, request.scope)
            if allowed:
                headers["Allow"] = allowed
            code = "method_not_allowed"
            message = f"{method} is not allowed on {path}; allowed: {headers.get('Allow', 'none')}"
        else:
            code = _code_for(exc.status_code)
            message = str(exc.detail)
        return error_response(request, exc.status_code, code, message, headers=headers)

    return handler


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    rid = request_id_of(request)
    log.error("unhandled error (request_id=%s)", rid, exc_info=exc)
    return error_response(
        request, 500, "internal",
        f"internal error; quote request_id {rid} when reporting it",
    )


class ErrorGuard:
    """The outermost middleware: an exception from inside becomes the one-shape 500 (or, once a
    response has started, is logged), and is never re-raised to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request = Request(scope)
            if started:
                log.error(
                    "unhandled error after the response started (request_id=%s)",
                    request_id_of(request), exc_info=exc,
                )
                return
            response = await internal_error_handler(request, exc)
            await response(scope, receive, send)


def exception_handlers(routes: Sequence[BaseRoute]) -> dict[Any, ExceptionHandler]:
    return {
        ApiError: api_error_handler,
        HTTPException: http_exception_handler(routes),
        Exception: internal_error_handler,
    }
