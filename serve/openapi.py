"""The OpenAPI 3.1 document, generated from the routes' declarations (``serve.routes.spec``) and
the pydantic models the handlers use: never written by hand.

OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what pydantic writes: the models' schemas
go into ``components.schemas`` as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute

from .errors import ErrorBody
from .routes.spec import ALWAYS, ERROR_STATUSES, ApiRoute, Content, Models, models_of

JsonMode = Literal["validation", "serialization"]
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")
REF = "#/components/schemas/{model}"


def _path(path: str) -> str:
    """A Starlette path as OpenAPI spells it (``{id:path}`` -> ``{id}``)."""
    return _CONVERTOR.sub(r"{\1}", path)


def _models(routes: Sequence[ApiRoute]) -> list[tuple[type[BaseModel], JsonMode]]:
    seen: dict[tuple[type[BaseModel], JsonMode], None] = {(ErrorBody, "serialization"): None}
    for r in routes:
        for model in models_of(r.doc.body):
            seen[(model, "validation")] = None
        for content in r.doc.responses.values():
            for model in models_of(content.model):
                seen[(model, "serialization")] = None
    return list(seen)


def _schema(models: Models, mode: JsonMode, refs: dict[Any, Any]) -> dict[str, Any]:
    """The reference to ``models``' schema (one of several: ``anyOf`` of their references)."""
    found = [refs[(m, mode)] for m in models_of(models)]
    return found[0] if len(found) == 1 else {"anyOf": found}


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    if "$defs" in schema:
        raise ValueError(f"{model.__name__}: parameters must be plain values, not models")
    out = []
    for name, info in model.model_fields.items():
        prop = dict(schema["properties"][name])
        description = prop.pop("description", None) or info.description
        param: dict[str, Any] = {
            "name": info.alias or name, "in": where,
            "required": where == "path" or info.is_required(), "schema": prop,
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _content(content: Content, refs: dict[Any, Any]) -> dict[str, Any]:
    if content.model is not None:
        schema = _schema(content.model, "serialization", refs)
    else:
        schema = dict(content.schema or {})
    return {content.media_type: {"schema": schema}}


def _operation(route: ApiRoute, refs: dict[Any, Any]) -> dict[str, Any]:
    doc = route.doc
    op: dict[str, Any] = {"operationId": route.name, "summary": doc.summary}
    if doc.description:
        op["description"] = doc.description
    if doc.tags:
        op["tags"] = list(doc.tags)
    params = _parameters(doc.path, "path") + _parameters(doc.query, "query")
    declared = {p["name"] for p in params if p["in"] == "path"}
    for name in re.findall(r"\{(\w+)\}", _path(route.path)):
        if name not in declared:
            params.insert(0, {"name": name, "in": "path", "required": True,
                              "schema": {"type": "string"}})
    if doc.extra_query is not None:
        taken = {p["name"] for p in params}
        params += [p for p in doc.extra_query() if p["name"] not in taken]
    if params:
        op["parameters"] = params
    if doc.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(doc.body, "validation", refs)}},
        }
    responses: dict[str, Any] = {}
    for status, content in sorted(doc.responses.items()):
        entry: dict[str, Any] = {"description": content.description or HTTPStatus(status).phrase}
        if content.media_type:
            entry["content"] = _content(content, refs)
        responses[str(status)] = entry
    shape = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    for status in doc.errors:
        own = doc.error_content is not None and status not in ALWAYS
        responses[str(status)] = {
            "description": ERROR_STATUSES[status],
            "content": _content(doc.error_content, refs) if own else shape,  # type: ignore[arg-type]
        }
    op["responses"] = responses
    op["security"] = [{}, {"bearer": []}]  # a token is needed only when one is configured
    return op


def openapi_document(
    routes: Sequence[BaseRoute], *, title: str = "snapsearch", version: str = "0"
) -> dict[str, Any]:
    """The document for ``routes`` (those that are ``ApiRoute``s; a test checks that all are)."""
    api = [r for r in routes if isinstance(r, ApiRoute)]
    refs, defs = models_json_schema(_models(api), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in api:
        paths.setdefault(_path(route.path), {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Read-only search over the current immutable snapshot. Every error "
            "has one JSON shape (ErrorBody).",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
