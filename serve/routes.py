"""The endpoints and their request helpers (JSON body with a size limit, ETag checks).

Metrics come from the app factory; the snapshot comes from the lifespan state
(``request.state.holder``), so a swap between two requests is seen by the second.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from snapsearch.search.errors import SearchError, UnknownCollection
from snapsearch.search.types import SearchRequest

from .collections_api import is_multi, search_collections_route
from .errors import ApiError, not_ready
from .holder import Loaded, SnapshotHolder
from .metrics import CONTENT_TYPE, Metrics
from .policy import policy_of
from .validation import invalid_request

MAX_BODY_BYTES = 64 * 1024


# -- request helpers ---------------------------------------------------------------------------


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


# -- the endpoints -----------------------------------------------------------------------------


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
        if is_multi(data):  # several collections, one answer (serve/collections_api.py)
            return await search_collections_route(request, loaded, data, self.metrics)
        try:
            req = SearchRequest.model_validate(data)
        except ValidationError as exc:
            raise invalid_request(exc, SearchRequest) from None
        access: dict[str, Any] = {"mode": req.mode, "query_chars": len(req.query)}
        if req.session_id is not None:
            access["session_id"] = req.session_id
        request.state.access = access
        limiter = getattr(request.state, "search_limiter", None)
        policy = policy_of(request)
        kw = {"exclude": policy.rules} if policy.rules else {}
        try:
            # CPU bound, off the event loop (torch, numpy, hnswlib and sqlite release the GIL):
            # /livez and /readyz stay fast under load; the limiter caps concurrent searches
            resp = await anyio.to_thread.run_sync(
                partial(loaded.engine.search, req, **kw), limiter=limiter
            )
        except UnknownCollection:
            raise _unknown_collection(loaded, req.collection) from None
        except SearchError as exc:
            raise ApiError(422, exc.code, exc.message, field=exc.field) from None
        policy.count(resp.excluded)
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
