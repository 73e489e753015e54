"""The read-only search server: app factory, lifespan, snapshot holder, middleware, routes.

The lifespan opens the snapshot ``<root>/current`` points at (verified, model pin checked,
warmed up) and yields ``{"holder": SnapshotHolder}`` as the lifespan state. A swap (publish
or rollback moved ``current``) replaces the holder's one reference to the loaded snapshot,
so requests in flight finish on the old one; it is closed after a grace delay.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapsearch.format.errors import SnapshotError
from snapsearch.format.model import CANARY_TEXT, Encoder, check_pin, load_encoder
from snapsearch.format.reader import Snapshot, open_snapshot, resolve_current
from snapsearch.search.engine import FilterNotSupported, SearchEngine, UnknownCollection
from snapsearch.search.types import SearchRequest
from snapsearch.settings import ServeSettings

from .errors import MAX_BODY_BYTES, ApiError, exception_handlers, invalid_request, not_ready
from .logging import SERVE_LOGGER, access_log
from .metrics import CONTENT_TYPE, UNMATCHED_ROUTE, Metrics

log = logging.getLogger(SERVE_LOGGER)

EncoderFactory = Callable[[], Encoder]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EQUALITY_FILTERS = ("category", "subcategory", "package", "library_type", "manufacturer")


def default_encoder_factory() -> Encoder:
    """The pinned model, one per process (torch loads on the first call, ~6 s)."""
    return load_encoder("minilm")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- the loaded snapshot and its holder ------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Loaded:
    """One opened, verified, pin-checked and warmed-up snapshot with its engine."""

    snapshot: Snapshot
    engine: SearchEngine
    target: Path
    loaded_at: str
    info_json: bytes  # the GET /v1/snapshot body, rendered once

    @property
    def snapshot_id(self) -> str:
        return self.snapshot.snapshot_id

    @property
    def etag(self) -> str:
        return f'"{self.snapshot_id}"'


def warm_up(engine: SearchEngine) -> None:
    """One canary query per collection: loads lazy pages and the model before traffic."""
    for name in engine.snapshot.collections:
        try:
            engine.search(SearchRequest(query=CANARY_TEXT, mode="hybrid", collection=name, limit=1))
        except Exception as exc:
            raise SnapshotError(
                f"snapshot {engine.snapshot.snapshot_id}: the warm-up query on collection "
                f"{name!r} failed: {exc!r}",
                fix="rebuild the snapshot; if it persists, report it with this message",
            ) from exc


class SnapshotHolder:
    """Holds the one current ``Loaded``; swaps it when ``<root>/current`` moves."""

    def __init__(
        self, settings: ServeSettings, encoder_factory: EncoderFactory, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._encoder_factory = encoder_factory
        self._metrics = metrics
        self._encoder: Encoder | None = None
        self._current: Loaded | None = None
        self._retiring: list[Loaded] = []
        self._failed_target: Path | None = None
        self._missing_logged = False
        self._lock: anyio.Lock | None = None
        self._tg: TaskGroup | None = None

    @property
    def current(self) -> Loaded | None:
        return self._current

    # -- opening (blocking; runs in a worker thread) --------------------------------------
    def open(self, target: Path) -> Loaded:
        """Open + verify ``target``, check the model pin and warm up; raises SnapshotError."""
        snapshot = open_snapshot(target, checksums=self._settings.verify_checksums)
        try:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
            where = f"snapshot {snapshot.snapshot_id}"
            check_pin(snapshot.manifest.model, self._encoder, where=where)
            engine = SearchEngine(snapshot, self._encoder)
            warm_up(engine)
            try:
                report = snapshot.gate_report()
                gates: Any = None if report is None else json.loads(report.to_json())
            except SnapshotError as exc:
                log.warning("snapshot %s: gate report unreadable: %s", snapshot.snapshot_id, exc)
                gates = None
            loaded_at = _now()
            info = {
                "snapshot_id": snapshot.snapshot_id,
                "loaded_at": loaded_at,
                "manifest": snapshot.manifest.model_dump(mode="json"),
                "gates": gates,
            }
            body = json.dumps(info, separators=(",", ":")).encode()
        except BaseException:
            snapshot.close()
            raise
        return Loaded(snapshot, engine, target, loaded_at, body)

    def load_initial(self) -> Loaded:
        """Load what ``current`` points at; any SnapshotError means the server must not start."""
        loaded = self.open(resolve_current(self._settings.root))
        self._install(loaded)
        log.info("serving snapshot %s from %s", loaded.snapshot_id, loaded.target)
        return loaded

    def _install(self, loaded: Loaded) -> Loaded | None:
        old, self._current = self._current, loaded
        m = loaded.snapshot.manifest
        self._metrics.set_snapshot(m.snapshot_id, m.model.model_id, m.built_at)
        return old

    # -- swapping (async) -----------------------------------------------------------------
    def start(self, tg: TaskGroup) -> None:
        self._tg = tg
        if self._settings.reload_poll_s > 0:
            tg.start_soon(self._poll, self._settings.reload_poll_s)

    async def _poll(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            try:
                await self.maybe_reload()
            except Exception:  # never let the poller die
                log.exception("snapshot reload check failed")

    async def maybe_reload(self) -> bool:
        """Switch to the snapshot ``current`` points at if it moved; True when switched.

        A snapshot that fails to open, verify or match the model is not served: the old one
        stays, the error is logged once, and that target is not retried until ``current``
        moves again.
        """
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            try:
                target = resolve_current(self._settings.root)
            except SnapshotError as exc:
                if not self._missing_logged:
                    log.warning("keeping the loaded snapshot: %s", exc)
                    self._missing_logged = True
                return False
            self._missing_logged = False
            current = self._current
            if current is not None and target == current.target:
                self._failed_target = None
                return False
            if target == self._failed_target:
                return False
            try:
                loaded = await anyio.to_thread.run_sync(self.open, target)
            except Exception as exc:
                self._failed_target = target
                self._metrics.reloads.labels("error").inc()
                log.error(
                    "keeping snapshot %s: cannot switch to %s: %s",
                    current.snapshot_id if current else None, target, exc,
                )
                return False
            self._failed_target = None
            old = self._install(loaded)
            self._metrics.reloads.labels("ok").inc()
            log.info(
                "switched snapshot %s -> %s",
                old.snapshot_id if old else None, loaded.snapshot_id,
            )
            if old is not None:
                self._retire(old)
            return True

    def _retire(self, old: Loaded) -> None:
        self._retiring.append(old)
        grace = self._settings.close_grace_s
        if self._tg is None or grace <= 0:
            self._close(old)
        else:
            self._tg.start_soon(self._close_later, old, grace)

    async def _close_later(self, old: Loaded, grace: float) -> None:
        await anyio.sleep(grace)
        self._close(old)

    def _close(self, old: Loaded) -> None:
        if old in self._retiring:
            self._retiring.remove(old)
            old.snapshot.close()

    def close(self) -> None:
        for old in list(self._retiring):
            self._close(old)
        if self._current is not None:
            self._current.snapshot.close()
            self._current = None


# -- middleware ------------------------------------------------------------------------------


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


# -- routes ----------------------------------------------------------------------------------


def _loaded(request: Request) -> Loaded:
    holder = getattr(request.state, "holder", None)
    loaded = holder.current if isinstance(holder, SnapshotHolder) else None
    if loaded is None:
        raise not_ready()
    request.state.snapshot_id = loaded.snapshot_id
    return loaded


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


async def _read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    if not body.strip():
        raise ApiError(400, "malformed_json", "the request body is empty: send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc}") from exc


def _too_large() -> ApiError:
    return ApiError(
        413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes"
    )


def _unknown_collection(loaded: Loaded, name: str | None) -> ApiError:
    return ApiError(
        404, "unknown_collection",
        f"collection {name!r} is not in snapshot {loaded.snapshot_id}; "
        f"collections: {', '.join(loaded.snapshot.collections)}",
        field="collection",
    )


def _filters_of(loaded: Loaded, collection: str | None) -> list[str]:
    cols = loaded.snapshot.collection(collection).info.filter_columns
    out = [f for f in _EQUALITY_FILTERS if f in cols]
    if "stock" in cols:
        out += ["in_stock", "stock_min"]
    return [*out, "numeric"]


class Api:
    """The endpoints; metrics come from the factory, the snapshot from the lifespan state."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/search", self.search, methods=["POST"]),
            Route("/v1/records/{id}", self.record, methods=["GET"]),
            Route("/v1/snapshot", self.snapshot, methods=["GET"]),
            Route("/livez", self.livez, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]

    async def search(self, request: Request) -> Response:
        loaded = _loaded(request)
        data = await _read_json(request)
        try:
            req = SearchRequest.model_validate(data)
        except ValidationError as exc:
            raise invalid_request(exc, SearchRequest) from None
        access: dict[str, Any] = {"mode": req.mode, "query_chars": len(req.query)}
        request.state.access = access
        limiter = getattr(request.state, "search_limiter", None)
        try:
            # CPU bound, off the event loop (torch, numpy, hnswlib and sqlite release the GIL):
            # /livez and /readyz stay fast under load; the limiter caps concurrent searches
            resp = await anyio.to_thread.run_sync(loaded.engine.search, req, limiter=limiter)
        except UnknownCollection:
            raise _unknown_collection(loaded, req.collection) from None
        except FilterNotSupported as exc:
            raise ApiError(
                422, "filter_not_supported",
                f"{exc}; filters available there: {', '.join(_filters_of(loaded, req.collection))}",
                field=exc.field,
            ) from None
        self.metrics.searches.labels(req.mode, resp.match).inc()
        access.update(match=resp.match, hits=len(resp.hits))
        return Response(resp.model_dump_json(), media_type="application/json")

    async def record(self, request: Request) -> Response:
        loaded = _loaded(request)
        record_id = request.path_params["id"]
        collection = request.query_params.get("collection")
        try:
            name = loaded.engine.collection(collection).name
            rec = loaded.engine.get_record(record_id, name)
        except UnknownCollection:
            raise _unknown_collection(loaded, collection) from None
        if rec is None:
            raise ApiError(
                404, "not_found",
                f"no record {record_id!r} in collection {name!r} of snapshot {loaded.snapshot_id}",
            )
        headers = {"ETag": loaded.etag}
        if _etag_matches(request, loaded.etag):
            return Response(status_code=304, headers=headers)
        body = {
            "id": record_id, "collection": name, "snapshot_id": loaded.snapshot_id, "record": rec,
        }
        return JSONResponse(body, headers=headers)

    async def snapshot(self, request: Request) -> Response:
        loaded = _loaded(request)
        headers = {"ETag": loaded.etag}
        if _etag_matches(request, loaded.etag):
            return Response(status_code=304, headers=headers)
        return Response(loaded.info_json, media_type="application/json", headers=headers)

    async def livez(self, request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(self, request: Request) -> Response:
        loaded = _loaded(request)
        return JSONResponse(
            {"status": "ready", "snapshot_id": loaded.snapshot_id, "loaded_at": loaded.loaded_at}
        )

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


# -- the factory -----------------------------------------------------------------------------


def create_app(
    settings: ServeSettings, *, encoder_factory: EncoderFactory | None = None
) -> Starlette:
    """The server for ``settings.root``; nothing is opened until the lifespan runs."""
    metrics = Metrics()
    holder = SnapshotHolder(settings, encoder_factory or default_encoder_factory, metrics)
    routes = Api(metrics).routes()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        try:
            await anyio.to_thread.run_sync(holder.load_initial)
        except SnapshotError as exc:
            log.error("refusing to start: %s", exc)
            raise
        try:
            async with anyio.create_task_group() as tg:
                holder.start(tg)
                limiter = anyio.CapacityLimiter(settings.search_threads)
                yield {"holder": holder, "search_limiter": limiter}
                tg.cancel_scope.cancel()
        finally:
            holder.close()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestMiddleware, metrics=metrics, routes=routes)],
        exception_handlers=exception_handlers(),
    )
