"""``GET /v1/records/{id}`` (one full record), and ``GET /v1/records?ids=a,b`` or
``POST /v1/records`` (several, by id or manufacturer part number; the unknown ones listed)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from snapsearch.search.errors import UnknownCollection
from snapsearch.search.lookup import MAX_KEYS, RecordsRequest, RecordsResponse, get_records

from ..errors import ApiError
from ..models import RecordPath, RecordQuery, RecordResponse, RecordsQuery
from ..validation import invalid_request
from .common import (
    blocking,
    etag_matches,
    json_response,
    loaded,
    read_model,
    unknown_collection,
    validate,
)
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


def _split(value: str | None) -> list[str]:
    """``a,b,,c`` -> [a, b, c]; more than MAX_KEYS keys are left to the model to refuse."""
    if not value:
        return []
    return [p.strip() for p in value.split(",", MAX_KEYS + 1) if p.strip()]


async def _records(request: Request, req: RecordsRequest) -> Response:
    current = loaded(request)
    request.state.access = access = {"ids": len(req.ids), "mpns": len(req.mpns)}
    resp: RecordsResponse = await blocking(request, current, get_records, current.engine, req)
    access.update(found=len(resp.records), missing=len(resp.missing) + len(resp.missing_mpns))
    return json_response(resp)


async def records_by_query(request: Request) -> Response:
    loaded(request)
    query = validate(RecordsQuery, dict(request.query_params))
    data: dict[str, object] = {"ids": _split(query.ids), "mpns": _split(query.mpns)}
    if query.collection is not None:
        data["collection"] = query.collection
    return await _records(request, validate(RecordsRequest, data))


async def records_by_body(request: Request) -> Response:
    loaded(request)
    return await _records(request, await read_model(request, RecordsRequest))


RECORDS = ("Records by id or manufacturer part number: `records` in the order asked (ids "
           "first), and every key not found listed in `missing` / `missing_mpns`, never "
           "dropped.")


def routes() -> list[BaseRoute]:
    return [
        api_route(
            "/v1/records/{id}", record, summary="One full record",
            query=RecordQuery, path_model=RecordPath, ok=RecordResponse,
            errors=(404, 422, 503), not_modified=True, tags=("records",),
        ),
        api_route(
            "/v1/records", records_by_query, summary="Several records (query string)",
            description=RECORDS, query=RecordsQuery, ok=RecordsResponse,
            errors=(404, 422, 503), tags=("records",),
        ),
        api_route(
            "/v1/records", records_by_body, method="POST", summary="Several records (JSON body)",
            description=RECORDS, body=RecordsRequest, ok=RecordsResponse,
            errors=(400, 404, 413, 422, 503), tags=("records",),
        ),
    ]
