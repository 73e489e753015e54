"""``POST /v1/feedback``: an outcome reported against a record, appended to the store's feedback
log (``snapsearch.format.feedback``); the snapshot stays read-only. The next build reads the log
and bakes priors into the snapshot it builds.

The record must be one the served snapshot holds (404 otherwise); the log has a size bound
(``SNAPSEARCH_FEEDBACK_MAX_BYTES``: 507 past it). Rate limiting is the API's own, applied to
every route; ``guard`` is the hook for a feedback-only limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from snapsearch.format.feedback import (
    MAX_ID_CHARS,
    MAX_WEIGHT,
    FeedbackEvent,
    FeedbackLogFull,
    Outcome,
    append_event,
)
from snapsearch.search.errors import UnknownCollection
from snapsearch.search.types import SESSION_PATTERN

from .bodies import loaded_of, read_json, search_error, validate
from .errors import ApiError

Guard = Callable[[Request], Awaitable[None]]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=128, pattern=SESSION_PATTERN)
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="the record's id")
    collection: str = Field(min_length=1, max_length=40)
    outcome: Outcome
    weight: float = Field(default=1.0, gt=0.0, le=MAX_WEIGHT)


class FeedbackResponse(BaseModel):
    accepted: bool
    session_id: str
    collection: str
    id: str
    outcome: Outcome
    weight: float
    snapshot_id: str


ROUTE_MODELS: dict[tuple[str, str], tuple[type[BaseModel], type[BaseModel]]] = {
    ("POST", "/v1/feedback"): (FeedbackRequest, FeedbackResponse),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FeedbackApi:
    def __init__(self, root: Path, max_bytes: int, guard: Guard | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.guard = guard

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/feedback", self.feedback, methods=["POST"])]

    async def feedback(self, request: Request) -> Response:
        loaded = loaded_of(request)
        req = validate(FeedbackRequest, await read_json(request))
        request.state.access = {"session_id": req.session_id, "collection": req.collection,
                                "record": req.id, "outcome": req.outcome}
        if self.guard is not None:
            await self.guard(request)
        try:
            col = loaded.engine.collection(req.collection)
        except UnknownCollection as exc:
            raise search_error(exc, loaded) from None
        if col.pos_of(req.id) is None:
            raise ApiError(
                404, "not_found",
                f"no record {req.id!r} in collection {req.collection!r} of snapshot "
                f"{loaded.snapshot_id}: feedback names a record the served snapshot holds",
                field="id",
            )
        event = FeedbackEvent(
            session_id=req.session_id, collection=req.collection, id=req.id,
            outcome=req.outcome, weight=req.weight, at=_now(), snapshot_id=loaded.snapshot_id,
        )
        try:
            await anyio.to_thread.run_sync(
                partial(append_event, self.root, event, max_bytes=self.max_bytes)
            )
        except FeedbackLogFull as exc:
            raise ApiError(507, "feedback_log_full", f"{exc.message} ({exc.fix})") from None
        body = FeedbackResponse(accepted=True, snapshot_id=loaded.snapshot_id,
                                **req.model_dump())
        return Response(body.model_dump_json(), status_code=202, media_type="application/json")
