"""Batches: ``{"items": [request, ...]}`` (1-100) -> ``{"results": [...]}`` in the items' order,
each its own response or ``{"error": {...}}`` in the one error shape (with the batch's request
id): one bad item never fails the batch.

An item may be any JSON value: it is checked on its own, as the single endpoint would check it,
and a bad one is that item's error, so the document says no more of an item than "any JSON
value" (the single endpoint's request model says what a good one is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from snapsearch.search.errors import SearchError
from snapsearch.search.lookup import LookupResponse
from snapsearch.search.multi import MultiSearchResponse
from snapsearch.search.types import SearchResponse

from ..errors import ApiError, ErrorBody, error_model, request_id_of
from ..holder import Loaded
from ..logging import SERVE_LOGGER
from ..policy import Policy, policy_of
from .common import MAX_BATCH_BODY_BYTES, blocking, loaded, read_model, search_error

log = logging.getLogger(SERVE_LOGGER)

MAX_BATCH_ITEMS = 100
R = TypeVar("R", bound=BaseModel)


def _items(what: str) -> Any:
    return Field(
        min_length=1, max_length=MAX_BATCH_ITEMS,
        description=f"1 to {MAX_BATCH_ITEMS} {what}, each checked and answered on its own "
        "(a bad one is its own error in `results`)",
    )


class BatchRequest(BaseModel):
    """What every batch body is: ``items``, each answered on its own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[Any]


class LookupBatchRequest(BatchRequest):
    """``POST /v1/lookup/batch``."""

    items: list[Any] = _items("lookup requests (LookupRequest)")


class SearchBatchRequest(BatchRequest):
    """``POST /v1/search/batch``."""

    items: list[Any] = _items(
        "search requests (SearchRequest, or MultiSearchRequest: one with `collections`)"
    )


class LookupBatchResponse(BaseModel):
    results: list[LookupResponse | ErrorBody] = Field(
        description="one per item, in the items' order: its response, or its error"
    )


class SearchBatchResponse(BaseModel):
    results: list[SearchResponse | MultiSearchResponse | ErrorBody] = Field(
        description="one per item, in the items' order: its response, or its error"
    )


def run_items(
    request_id: str | None, current: Loaded, items: list[Any], answer: Callable[[Any], R],
) -> list[R | ErrorBody]:
    """Each item's response, or its error in the one shape (its own code, message and field,
    the batch's request id). Blocking: run it off the event loop."""
    out: list[R | ErrorBody] = []
    for item in items:
        try:
            out.append(answer(item))
        except ApiError as exc:
            out.append(error_model(exc.code, exc.message, exc.field, request_id))
        except SearchError as exc:
            err = search_error(exc, current)
            out.append(error_model(err.code, err.message, err.field, request_id))
        except Exception:  # one item's bug is that item's 500, not the batch's
            log.exception("batch item failed (request_id=%s)", request_id)
            out.append(error_model(
                "internal", f"internal error; quote request_id {request_id} when reporting it",
                None, request_id,
            ))
    return out


def errors_in(results: list[Any]) -> int:
    return sum(1 for r in results if isinstance(r, ErrorBody))


async def answer_batch(
    request: Request, model: type[BatchRequest], answer: Callable[[Loaded, Policy, Any], R],
) -> list[R | ErrorBody]:
    """A batch endpoint's work: read ``model`` (up to MAX_BATCH_BODY_BYTES), answer each item
    with ``answer(current, policy, item)`` off the event loop (``run_items``), and note the
    item and error counts in the access log."""
    current = loaded(request)
    batch = await read_model(request, model, MAX_BATCH_BODY_BYTES)
    request.state.access = access = {"items": len(batch.items)}
    policy = policy_of(request)
    results = await blocking(
        request, current, run_items, request_id_of(request), current, batch.items,
        lambda item: answer(current, policy, item),
    )
    access["errors"] = errors_in(results)
    return results
