"""What the server says about itself: the loaded snapshot, liveness, readiness, metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..holder import SnapshotHolder
from ..lifecycle import draining
from ..metrics import CONTENT_TYPE, Metrics
from ..models import Liveness, Readiness, SnapshotInfo
from .common import etag_matches, loaded
from .spec import Content, api_route


def routes(metrics: Metrics) -> list[BaseRoute]:
    async def snapshot(request: Request) -> Response:
        current = loaded(request)
        headers = {"ETag": current.etag}
        if etag_matches(request, current.etag):
            return Response(status_code=304, headers=headers)
        # rendered once per snapshot by the holder; a test holds it to SnapshotInfo
        return Response(current.info_json, media_type="application/json", headers=headers)

    async def livez(request: Request) -> Response:
        return Response(Liveness(status="alive").model_dump_json(),
                        media_type="application/json")

    async def readyz(request: Request) -> Response:
        holder = getattr(request.state, "holder", None)
        if isinstance(holder, SnapshotHolder) and holder.draining:
            raise draining()
        current = loaded(request)
        body = Readiness(status="ready", snapshot_id=current.snapshot_id,
                         loaded_at=current.loaded_at)
        return Response(body.model_dump_json(), media_type="application/json")

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return [
        api_route("/v1/snapshot", snapshot, summary="The loaded snapshot's manifest and gate "
                  "report", ok=SnapshotInfo, errors=(503,), not_modified=True,
                  tags=("introspection",)),
        api_route("/livez", livez, summary="Liveness: the process answers", ok=Liveness,
                  tags=("introspection",)),
        api_route("/readyz", readyz, summary="Readiness: a snapshot is loaded and warmed up "
                  "(503 until then, and again from SIGTERM on)", ok=Readiness, errors=(503,),
                  tags=("introspection",)),
        api_route("/metrics", metrics_text, summary="Prometheus metrics",
                  ok=Content(media_type=CONTENT_TYPE.split(";")[0],
                             schema={"type": "string"}, description="Prometheus text format"),
                  tags=("introspection",), name="metrics"),
    ]
