"""One JSON error shape for every error, on every endpoint::

    {"error": {"code": "...", "message": "...", "field": "<dotted path or null>",
               "request_id": "..."}}

Routes raise ``ApiError``; the router's 404/405 arrive as ``HTTPException``; anything else is
a 500 ``internal`` with no traceback in the body (the traceback goes to the log).
"""

from __future__ import annotations

import logging
import types
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

log = logging.getLogger("snapsearch.serve")

MAX_BODY_BYTES = 64 * 1024


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


def error_body(
    code: str, message: str, field: str | None, request_id: str | None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "request_id": request_id}}


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


# -- validation messages ------------------------------------------------------------------


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (through Optional, unions and lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, Sequence):
        for arg in get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (list indexes are skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        current = None if info is None else _unwrap_model(info.annotation)
    return current


def _field_info(model: type[BaseModel], loc: Sequence[int | str]) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(model, loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    return None if parent is None else parent.model_fields.get(names[-1])


def _allowed_hint(info: FieldInfo) -> str | None:
    lo = hi = min_len = max_len = None
    for m in info.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
        min_len = getattr(m, "min_length", min_len)
        max_len = getattr(m, "max_length", max_len)
    if min_len is not None or max_len is not None:
        unit = "items" if get_origin(info.annotation) is list else "characters"
        if min_len is not None and max_len is not None:
            return f"{min_len} to {max_len} {unit}"
        return f"at least {min_len} {unit}" if min_len is not None else f"at most {max_len} {unit}"
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    if lo is not None:
        return f"at least {lo}"
    if hi is not None:
        return f"at most {hi}"
    return None


def describe_validation_error(
    exc: ValidationError, model: type[BaseModel]
) -> tuple[str, str | None]:
    """(message, dotted field) for the first problem; the message says what is allowed."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc: tuple[int | str, ...] = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or None
    kind = first["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent is not None else "none"
        where = f" in {'.'.join(str(p) for p in loc[:-1])}" if len(loc) > 1 else ""
        message = f"unknown field {str(loc[-1])!r}{where}; allowed fields: {allowed}"
    elif kind == "missing":
        message = f"{field} is required"
    elif field is None:
        message = f"the request body must be a JSON object: {first['msg']}"
    else:
        text = str(first["msg"]).removeprefix("Value error, ")
        message = f"{field}: {text}"
        info = _field_info(model, loc)
        hint = _allowed_hint(info) if info is not None else None
        if hint:
            message += f" (allowed: {hint})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message, field


def invalid_request(exc: ValidationError, model: type[BaseModel]) -> ApiError:
    message, field = describe_validation_error(exc, model)
    return ApiError(422, "invalid_request", message, field=field)


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


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        code = "route_not_found"
        message = (
            f"no route {method} {path}; routes: POST /v1/search, GET /v1/records/{{id}}, "
            "GET /v1/snapshot, GET /livez, GET /readyz, GET /metrics"
        )
    elif exc.status_code == 405:
        code = "method_not_allowed"
        message = f"{method} is not allowed on {path}; allowed: {headers.get('Allow', 'none')}"
    else:
        code = _code_for(exc.status_code)
        message = str(exc.detail)
    return error_response(request, exc.status_code, code, message, headers=headers)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    rid = request_id_of(request)
    log.error("unhandled error (request_id=%s)", rid, exc_info=exc)
    return error_response(
        request, 500, "internal",
        f"internal error; quote request_id {rid} when reporting it",
    )


def exception_handlers() -> dict[Any, ExceptionHandler]:
    return {
        ApiError: api_error_handler,
        HTTPException: http_exception_handler,
        Exception: internal_error_handler,
    }
