"""What the endpoints share: the loaded snapshot of this request, ETag checks, reading a JSON
body into a request model (size limit, strict types, one error shape), search errors in that
shape, and running blocking work off the event loop.

Each request uses the one snapshot ``loaded(request)`` returned, leased to it for its whole life
(``serve.lifecycle``): a swap between two requests is seen by the second, never halfway through
one, and a replaced snapshot is closed only after its last request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from snapsearch.search.errors import SearchError, UnknownCollection

from ..errors import ApiError, not_ready
from ..holder import Loaded
from ..validation import invalid_request

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH_BODY_BYTES = 1024 * 1024  # a batch of up to 100 requests
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def loaded(request: Request) -> Loaded:
    """The snapshot this request holds a lease on (503 ``not_ready`` before one is loaded)."""
    current = getattr(request.state, "loaded", None)
    if not isinstance(current, Loaded):
        raise not_ready()
    request.state.snapshot_id = current.snapshot_id
    return current


def etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def too_large(max_bytes: int = MAX_BODY_BYTES) -> ApiError:
    return ApiError(413, "payload_too_large", f"the request body is larger than {max_bytes} bytes")


async def read_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused past ``max_bytes`` (declared or streamed) or when empty."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large(max_bytes)
    if not body.strip():
        raise ApiError(400, "malformed_json", "the request body is empty: send a JSON object")
    return bytes(body)


async def read_model(request: Request, model: type[M], max_bytes: int = MAX_BODY_BYTES) -> M:
    """The body parsed and validated as ``model`` in one pass (pydantic's JSON parser: no
    recursion error on deep nesting, lone surrogates refused): 400 ``malformed_json`` when it is
    not JSON, 413 past ``max_bytes``, 422 ``invalid_request`` naming the field when it is not a
    valid request."""
    return parse_model(await read_body(request, max_bytes), model)


def parse_model(body: bytes, model: type[M]) -> M:
    """``body`` parsed and validated as ``model`` (as ``read_model``)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            detail = str(first["msg"]).removeprefix("Invalid JSON: ")
            raise ApiError(
                400, "malformed_json",
                f"the request body is not valid JSON: {detail} (send a JSON object of UTF-8 "
                "text, nested at most 200 levels)",
            ) from None
        raise invalid_request(exc, model) from None


def validate(model: type[M], data: Any) -> M:
    """``data`` (already parsed: a query string's values, a batch's item) validated as ``model``
    (strict as the model is): 422 ``invalid_request`` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc, model) from None


def unknown_collection(current: Loaded, name: str | None, available: list[str] | None = None,
                       field: str = "collection") -> ApiError:
    return ApiError(
        404, "unknown_collection",
        f"collection {name!r} is not in snapshot {current.snapshot_id}; "
        f"collections: {', '.join(available or current.snapshot.collections)}",
        field=field,
    )


def search_error(exc: SearchError, current: Loaded) -> ApiError:
    """A search error in the one shape: an unknown collection is a 404, the rest 422."""
    if isinstance(exc, UnknownCollection):
        return unknown_collection(current, exc.name, list(exc.available), exc.field or "collection")
    return ApiError(422, exc.code, exc.message, field=exc.field)


async def blocking(request: Request, current: Loaded, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` off the event loop (CPU bound: onnxruntime, numpy, hnswlib and sqlite release
    the GIL, so /livez and /readyz stay fast under load), capped by the lifespan's limiter on
    concurrent searches; search errors become ``ApiError``s."""
    limiter = getattr(request.state, "search_limiter", None)
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=limiter)
    except SearchError as exc:
        raise search_error(exc, current) from None


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as the JSON body (fields marked ``exclude`` left out)."""
    return Response(model.model_dump_json(), status_code=status_code,
                    media_type="application/json")
