"""Per-request bookkeeping: the request id in and out, one access log line, request metrics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .holder import SnapshotHolder
from .logging import access_log
from .metrics import UNMATCHED_ROUTE, Metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE


class RequestMiddleware:
    """x-request-id in and out, one access log line and the request metrics per request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id")
        rid = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500
            state.setdefault("error_code", "internal")
            raise
        finally:
            self._record(scope, state, status, time.perf_counter() - t0)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = _route_template(self.routes, scope)
        self.metrics.observe_request(scope["method"], route, status, seconds)
        if status >= 400:
            self.metrics.errors.labels(route, str(state.get("error_code", status))).inc()
        snapshot_id = state.get("snapshot_id")
        holder = state.get("holder")
        if snapshot_id is None and isinstance(holder, SnapshotHolder) and holder.current:
            snapshot_id = holder.current.snapshot_id
        fields: dict[str, Any] = {
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "snapshot_id": snapshot_id,
        }
        fields.update(state.get("access", {}))
        access_log(fields)
