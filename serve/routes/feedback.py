"""``POST /v1/feedback``: an outcome reported against a record, appended to the store's feedback
log (``snapsearch.format.feedback``); the snapshot stays read-only. The next build reads the log
and bakes priors into the snapshot it builds.

The record must be one the served snapshot holds (404 otherwise); the log has a size bound
(``SNAPSEARCH_FEEDBACK_MAX_BYTES``: 507 past it). Rate limiting is the API's own, applied to
every route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.format.feedback import FeedbackEvent, FeedbackLogFull, append_event
from snapsearch.search.errors import UnknownCollection

from ..errors import ApiError
from ..models import FeedbackRequest, FeedbackResponse
from .common import json_response, loaded, read_model, search_error
from .spec import api_route


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def routes(root: Path, max_bytes: int) -> list[BaseRoute]:
    """The route appending to ``root``'s feedback log, bounded at ``max_bytes``."""

    async def feedback(request: Request) -> Response:
        current = loaded(request)
        req = await read_model(request, FeedbackRequest)
        request.state.access = {"session_id": req.session_id, "collection": req.collection,
                                "record": req.id, "outcome": req.outcome}
        try:
            col = current.engine.collection(req.collection)
        except UnknownCollection as exc:
            raise search_error(exc, current) from None
        if col.pos_of(req.id) is None:
            raise ApiError(
                404, "not_found",
                f"no record {req.id!r} in collection {req.collection!r} of snapshot "
                f"{current.snapshot_id}: feedback names a record the served snapshot holds",
                field="id",
            )
        event = FeedbackEvent(
            session_id=req.session_id, collection=req.collection, id=req.id,
            outcome=req.outcome, weight=req.weight, at=_now(), snapshot_id=current.snapshot_id,
        )
        try:
            await anyio.to_thread.run_sync(
                partial(append_event, root, event, max_bytes=max_bytes)
            )
        except FeedbackLogFull as exc:
            raise ApiError(507, "feedback_log_full", f"{exc.message} ({exc.fix})") from None
        body = FeedbackResponse(accepted=True, snapshot_id=current.snapshot_id,
                                **req.model_dump())
        return json_response(body, status_code=202)

    return [
        api_route(
            "/v1/feedback", feedback, method="POST", summary="Report an outcome for a record",
            description="Appended to the store's append-only feedback log (the snapshot stays "
            "read-only); the next build bakes it into per-record and per-collection priors. "
            "The record must be one the served snapshot holds.",
            body=FeedbackRequest, ok=FeedbackResponse, ok_status=202,
            errors=(400, 404, 413, 422, 503, 507), tags=("feedback",),
        ),
    ]
