"""``GET /openapi.json``: the API's description, generated from the routes (``serve.openapi``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .. import openapi
from .spec import Content, api_route


def _version() -> str:
    try:
        return version("snapsearch")
    except PackageNotFoundError:
        return "0"


def routes(app_routes: Callable[[], Sequence[BaseRoute]]) -> list[BaseRoute]:
    """The document of ``app_routes()`` (the whole app, this route included), made once."""
    rendered: list[bytes] = []

    async def openapi_json(request: Request) -> Response:
        if not rendered:
            doc = openapi.openapi_document(app_routes(), version=_version())
            rendered.append(json.dumps(doc, separators=(",", ":")).encode())
        return Response(rendered[0], media_type="application/json")

    return [
        api_route("/openapi.json", openapi_json, summary="This API's OpenAPI 3.1 document",
                  ok=Content(schema={"type": "object"}, description="OpenAPI 3.1"),
                  tags=("introspection",)),
    ]
