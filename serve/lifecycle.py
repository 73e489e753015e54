"""Each request's hold on the snapshot it answers from, and draining at shutdown.

``SnapshotLeases`` (ASGI middleware, inside the request middleware) leases the current snapshot
for the whole request (``request.state.loaded``; the routes answer from it) and releases it
once the response is sent. The last release of a replaced snapshot closes it, off the event
loop. While the holder drains (``SnapshotHolder.start_draining``, on SIGTERM: ``serve.runner``),
every response says ``Connection: close``, so clients leave their kept-alive connections
between requests instead of having them cut when the server stops.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .holder import SnapshotHolder


def draining() -> ApiError:
    return ApiError(
        503, "shutting_down",
        "the server is shutting down: it finishes the requests in flight; send new ones to "
        "another replica",
    )


class SnapshotLeases:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state") or {}
        holder = state.get("holder")
        if scope["type"] != "http" or not isinstance(holder, SnapshotHolder):
            await self.app(scope, receive, send)
            return
        loaded = holder.acquire()
        state["loaded"] = loaded

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and holder.draining:
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        try:
            await self.app(scope, receive, send_closing)
        finally:
            if loaded is not None and holder.release(loaded):
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(holder.close_retired, loaded)
