"""Routes that describe themselves.

An endpoint module declares each route with ``api_route``: its path, method, handler and the
pydantic models of its query, body and responses, and the error statuses it can answer. The
OpenAPI document (``serve.openapi``) is generated from these declarations and the models, so a
new endpoint module documents itself by declaring its routes this way: nothing central lists
models, and a test fails for any route that is not an ``ApiRoute``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]

# What each error status means, wherever it is answered (in the one shape, ``ErrorBody``).
ERROR_STATUSES: dict[int, str] = {
    400: "the body is not JSON (malformed, nested too deeply, or not valid Unicode)",
    401: "a bearer token is configured and the request has no valid one",
    404: "no such record, collection or route",
    413: "the body is larger than the limit",
    422: "the request is valid JSON but not a valid request: the message says what is allowed",
    429: "too many requests from this client: retry after the Retry-After header's seconds",
    500: "an internal error: quote the request_id when reporting it",
    503: "no snapshot is loaded yet (the server is starting)",
    507: "the store's feedback log is full (its size bound is reached)",
}
ALWAYS = (401, 429, 500)
"""Statuses any route can answer (401 and 429 only when access control is on)."""


Models = type[BaseModel] | tuple[type[BaseModel], ...]
"""A body's model, or the models it may be (any one of them: ``anyOf`` in the document)."""


def models_of(models: Models | None) -> tuple[type[BaseModel], ...]:
    if models is None:
        return ()
    return models if isinstance(models, tuple) else (models,)


@dataclass(frozen=True)
class Content:
    """A response body: a pydantic model (or one of several) as JSON, or another media type with
    a JSON Schema."""

    model: Models | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says of one route."""

    summary: str
    description: str = ""
    body: Models | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    responses: Mapping[int, Content] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    # the body of this route's own errors when it is not ErrorBody (the HTML pages); the errors
    # of every route (401, 429, 500) are always ErrorBody
    error_content: Content | None = None
    tags: tuple[str, ...] = ()
    # more query parameters, made when the document is (the search page's filters, declared
    # by the record kinds registered then): OpenAPI parameter objects
    extra_query: Callable[[], list[dict[str, Any]]] | None = None


class ApiRoute(Route):
    """A Starlette route with one method and its ``Doc``."""

    def __init__(self, path: str, endpoint: Endpoint, *, method: str, doc: Doc,
                 name: str | None = None) -> None:
        super().__init__(path, endpoint, methods=[method], name=name)
        self.method = method
        self.doc = doc


def api_route(
    path: str,
    endpoint: Endpoint,
    *,
    method: str = "GET",
    summary: str,
    description: str = "",
    ok: Models | Content | None = None,
    ok_status: int = 200,
    body: Models | None = None,
    query: type[BaseModel] | None = None,
    path_model: type[BaseModel] | None = None,
    errors: Sequence[int] = (),
    not_modified: bool = False,
    tags: Sequence[str] = (),
    extra_query: Callable[[], list[dict[str, Any]]] | None = None,
    error_content: Content | None = None,
    name: str | None = None,
) -> ApiRoute:
    """One documented route: ``body`` the request body's model (a tuple: any one of them);
    ``ok`` the ``ok_status`` (200) body (a model or a tuple of them, or ``Content`` for another
    media type); ``errors`` the statuses it answers besides 401, 429 and 500; ``not_modified``
    that it answers 304 to a matching If-None-Match."""
    responses: dict[int, Content] = {}
    if isinstance(ok, Content):
        responses[ok_status] = ok
    elif ok is not None:
        responses[ok_status] = Content(ok)
    if not_modified:
        responses[304] = Content(media_type="", description="not modified (the ETag matches)")
    unknown = set(errors) - set(ERROR_STATUSES)
    if unknown:
        raise ValueError(f"{path}: undocumented error statuses {sorted(unknown)}")
    doc = Doc(
        summary=summary, description=description, body=body, query=query, path=path_model,
        responses=responses, errors=tuple(sorted(set(errors) | set(ALWAYS))), tags=tuple(tags),
        extra_query=extra_query, error_content=error_content,
    )
    return ApiRoute(path, endpoint, method=method, doc=doc, name=name or endpoint.__name__)
