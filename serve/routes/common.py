"""What the endpoints share: the loaded snapshot of this request, ETag checks, and reading a JSON
body into a request model (size limit, strict types, one error shape).

Each request uses the one snapshot ``loaded(request)`` returned, leased to it for its whole life
(``serve.lifecycle``): a swap between two requests is seen by the second, never halfway through
one, and a replaced snapshot is closed only after its last request.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..errors import ApiError, not_ready
from ..holder import Loaded
from ..validation import invalid_request

MAX_BODY_BYTES = 64 * 1024
M = TypeVar("M", bound=BaseModel)


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


def too_large() -> ApiError:
    return ApiError(
        413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes"
    )


async def read_body(request: Request) -> bytes:
    """The body, refused past ``MAX_BODY_BYTES`` (declared or streamed) or when empty."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large()
    if not body.strip():
        raise ApiError(400, "malformed_json", "the request body is empty: send a JSON object")
    return bytes(body)


async def read_model(request: Request, model: type[M]) -> M:
    """The body parsed and validated as ``model`` in one pass (pydantic's JSON parser: no
    recursion error on deep nesting, lone surrogates refused): 400 ``malformed_json`` when it is
    not JSON, 422 ``invalid_request`` naming the field when it is not a valid request."""
    return parse_model(await read_body(request), model)


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


def unknown_collection(current: Loaded, name: str | None) -> ApiError:
    return ApiError(
        404, "unknown_collection",
        f"collection {name!r} is not in snapshot {current.snapshot_id}; "
        f"collections: {', '.join(current.snapshot.collections)}",
        field="collection",
    )
