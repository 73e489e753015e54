"""``GET /v1/records/{id}``."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.errors import UnknownCollection

from ..errors import ApiError
from ..models import RecordPath, RecordQuery, RecordResponse
from ..validation import invalid_request
from .common import etag_matches, loaded, unknown_collection
from .spec import api_route


async def record(request: Request) -> Response:
    current = loaded(request)
    record_id = request.path_params["id"]
    try:
        query = RecordQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise invalid_request(exc, RecordQuery) from None
    try:
        name = current.engine.collection(query.collection).name
        rec = current.engine.get_record(record_id, name)
    except UnknownCollection:
        raise unknown_collection(current, query.collection) from None
    if rec is None:
        raise ApiError(
            404, "not_found",
            f"no record {record_id!r} in collection {name!r} of snapshot {current.snapshot_id}",
        )
    headers = {"ETag": current.etag}
    if etag_matches(request, current.etag):
        return Response(status_code=304, headers=headers)
    body = RecordResponse(id=record_id, collection=name, snapshot_id=current.snapshot_id,
                          record=rec)
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


def routes() -> list[BaseRoute]:
    return [
        api_route(
            "/v1/records/{id}", record, summary="One full record",
            query=RecordQuery, path_model=RecordPath, ok=RecordResponse,
            errors=(404, 422, 503), not_modified=True, tags=("records",),
        ),
    ]
