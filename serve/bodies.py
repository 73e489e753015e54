"""Request plumbing shared by the lookup, multi-collection, context and feedback endpoints: a
JSON body with a size limit, search errors in the one error shape, batches of items each
answered on its own."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from snapsearch.search.errors import SearchError, UnknownCollection

from .errors import ApiError, error_body, not_ready, request_id_of
from .holder import Loaded
from .logging import SERVE_LOGGER
from .validation import invalid_request

log = logging.getLogger(SERVE_LOGGER)

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH_BODY_BYTES = 1024 * 1024
MAX_BATCH_ITEMS = 100
M = TypeVar("M", bound=BaseModel)


def loaded_of(request: Request) -> Loaded:
    """The snapshot this request holds a lease on (``serve.lifecycle``)."""
    loaded = getattr(request.state, "loaded", None)
    if not isinstance(loaded, Loaded):
        raise not_ready()
    request.state.snapshot_id = loaded.snapshot_id
    return loaded


async def read_json(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Any:
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
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc}") from exc


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"the request body is larger than {max_bytes} bytes")


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc, model) from None


def search_error(exc: SearchError, loaded: Loaded) -> ApiError:
    """A search error in the one shape: an unknown collection is a 404, the rest 422."""
    if isinstance(exc, UnknownCollection):
        return ApiError(
            404, "unknown_collection",
            f"collection {exc.name!r} is not in snapshot {loaded.snapshot_id}; "
            f"collections: {', '.join(exc.available)}",
            field=exc.field,
        )
    return ApiError(422, exc.code, exc.message, field=exc.field)


class BatchRequest(BaseModel):
    """``{"items": [request, ...]}``: each item is checked and answered on its own."""

    model_config = ConfigDict(extra="forbid")

    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class BatchResponse(BaseModel):
    """``{"results": [...]}`` in the items' order: each a response or ``{"error": {...}}``."""

    results: list[dict[str, Any]]


def run_items(
    request: Request, loaded: Loaded, items: list[Any], answer: Callable[[Any], BaseModel],
) -> list[dict[str, Any]]:
    """Each item's response, or ``{"error": {...}}`` in the one shape (its own code, message and
    field, the batch's request id): one bad item never fails the batch."""
    rid = request_id_of(request)
    out: list[dict[str, Any]] = []
    for item in items:
        try:
            out.append(answer(item).model_dump(mode="json"))
        except ApiError as exc:
            out.append(error_body(exc.code, exc.message, exc.field, rid))
        except SearchError as exc:
            err = search_error(exc, loaded)
            out.append(error_body(err.code, err.message, err.field, rid))
        except Exception:  # one item's bug is that item's 500, not the batch's
            log.exception("batch item failed (request_id=%s)", rid)
            out.append(error_body("internal", f"internal error; quote request_id {rid} when "
                                  "reporting it", None, rid))
    return out
