"""GET /openapi.json: generated from the routes' declarations and the handlers' models; every route
is in it, the README's example requests validate against it, and the real answers match it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from serve.errors import ErrorBody
from serve.metrics import Metrics
from serve.openapi import openapi_document
from serve.routes import Api, ApiRoute, api_route
from snapsearch.search.types import SearchRequest
from tests.serve.conftest import KNOWN_ID

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return dict(r.json())


def validator(doc: dict[str, Any], ref: str | dict[str, Any]) -> Draft202012Validator:
    """A validator for ``ref`` (``#/components/schemas/X``, or a schema that refers to them)
    inside ``doc``."""
    schema = {"$ref": ref} if isinstance(ref, str) else ref
    return Draft202012Validator({**schema, "components": doc["components"]})


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return dict(doc["paths"][path][method.lower()])


def undocumented(routes: list[Any], doc: dict[str, Any]) -> list[str]:
    """``METHOD path`` of every route the document does not describe."""
    out = []
    for route in routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            if method.lower() not in doc["paths"].get(path, {}):
                out.append(f"{method} {route.path}")
    return out


# -- the document ------------------------------------------------------------------------------


def test_is_openapi_31_with_valid_schemas(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "snapsearch"
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_route_is_documented(app: Starlette, doc: dict[str, Any]) -> None:
    assert undocumented(list(app.routes), doc) == []
    # and every route declares itself (a plain Route would be missing from the document)
    assert all(isinstance(r, ApiRoute) for r in app.routes)
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert documented == {
        ("GET", "/"), ("GET", "/records/{id}"), ("GET", "/openapi.json"),
        ("POST", "/v1/search"), ("POST", "/v1/search/batch"), ("POST", "/v1/lookup"),
        ("POST", "/v1/lookup/batch"), ("GET", "/v1/records"), ("POST", "/v1/records"),
        ("GET", "/v1/records/{id}"), ("POST", "/v1/context"), ("POST", "/v1/feedback"),
        ("GET", "/v1/snapshot"), ("GET", "/livez"), ("GET", "/readyz"), ("GET", "/metrics"),
    }


def test_the_document_route_comes_last(app: Starlette) -> None:
    """``Api.routes`` builds the document's route after every other, from the whole list."""
    assert str(getattr(app.routes[-1], "path", "")) == "/openapi.json"


def test_a_plain_route_would_be_caught(doc: dict[str, Any]) -> None:
    async def endpoint(request: Request) -> Response:
        return Response()

    assert undocumented([Route("/v1/secret", endpoint, methods=["GET"])], doc) == [
        "GET /v1/secret"
    ]


def test_a_new_module_documents_itself_by_declaring_its_routes() -> None:
    """A new endpoint module declares its routes with ``api_route``; its models reach the
    document with no central list to edit."""

    class ThingsRequest(BaseModel):
        ids: list[str]

    class ThingsResponse(BaseModel):
        found: dict[str, Any]

    async def things(request: Request) -> Response:
        return Response()

    extra = api_route("/v1/things", things, method="POST", summary="Look things up",
                      body=ThingsRequest, ok=ThingsResponse, errors=(400, 422))
    doc = openapi_document([*Api(Metrics(), REPO).routes(), extra])
    op = doc["paths"]["/v1/things"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ThingsRequest"}
    assert {"ThingsRequest", "ThingsResponse"} <= set(doc["components"]["schemas"])
    assert set(op["responses"]) == {"200", "400", "401", "422", "429", "500"}


def test_errors_are_documented_in_the_one_shape(doc: dict[str, Any]) -> None:
    shape = {"$ref": "#/components/schemas/ErrorBody"}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for status in ("401", "429", "500"):
                assert op["responses"][status]["content"]["application/json"]["schema"] == shape, \
                    (method, path, status)
            for status, resp in op["responses"].items():
                if int(status) >= 400 and not path.startswith(("/records", "/?")) and path != "/":
                    assert resp["content"] == {"application/json": {"schema": shape}}
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    assert doc["components"]["schemas"]["ErrorBody"] == {k: v for k, v in body.items()
                                                         if k != "$defs"}
    detail = doc["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "field", "request_id"}


def test_search_request_is_the_handlers_model(doc: dict[str, Any]) -> None:
    op = operation(doc, "POST", "/v1/search")
    # one collection, or several (a body with ``collections``): either model, either answer
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/SearchRequest"},
        {"$ref": "#/components/schemas/MultiSearchRequest"}]}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/SearchResponse"},
        {"$ref": "#/components/schemas/MultiSearchResponse"}]}
    schema = doc["components"]["schemas"]["SearchRequest"]
    assert schema == SearchRequest.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="validation")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["limit"] == {
        "default": 10, "description": "hits per page", "maximum": 100, "minimum": 1,
        "title": "Limit", "type": "integer"}
    # the filters as the registered kinds declare them
    filters = schema["properties"]["filters"]
    assert filters["additionalProperties"] is False
    assert {"category", "package", "in_stock", "stock_min", "numeric"} <= set(filters["properties"])
    stock_min = filters["properties"]["stock_min"]["anyOf"][0]
    assert stock_min == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def test_page_parameters_include_the_kinds_filters(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operation(doc, "GET", "/")["parameters"]}
    assert {"q", "mode", "collection", "limit", "offset", "category", "package", "in_stock",
            "stock_min", "library_type"} <= set(params)
    assert "text/html" in operation(doc, "GET", "/")["responses"]["200"]["content"]


def test_the_document_is_the_same_each_time(client: TestClient) -> None:
    assert client.get("/openapi.json").content == client.get("/openapi.json").content


# -- the README's examples validate against it ------------------------------------------------


def readme_requests() -> list[tuple[str, str, Any]]:
    """(method, path, body) of every curl command in the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^curl .*?(?<!\\)$", text.replace("\\\n", " "), flags=re.M)
    out = []
    for command in commands:
        words = shlex.split(command)
        url = next(w for w in words if "localhost:" in w or w.startswith("http"))
        path = "/" + url.split("/", 1)[1] if "/" in url.split("://")[-1] else "/"
        body = json.loads(words[words.index("-d") + 1]) if "-d" in words else None
        out.append(("POST" if body is not None else "GET", path.split("?")[0], body))
    return out


def test_the_readme_has_examples() -> None:
    assert len(readme_requests()) >= 3


@pytest.mark.parametrize(("method", "path", "body"), readme_requests(),
                         ids=[f"{m} {p}" for m, p, _ in readme_requests()])
def test_readme_requests_validate(doc: dict[str, Any], client: TestClient, method: str,
                                  path: str, body: Any) -> None:
    templates = {re.sub(r"\{\w+\}", "[^/]+", p): p for p in doc["paths"]}
    documented = next((t for rx, t in templates.items() if re.fullmatch(rx, path)), None)
    assert documented is not None, f"{path} is not in the document"
    op = operation(doc, method, documented)
    if body is not None:
        validator(doc, op["requestBody"]["content"]["application/json"]["schema"]).validate(body)
        r = client.request(method, path, json=body)
    else:
        r = client.request(method, path)
    assert r.status_code == 200, r.text
    ok = op["responses"]["200"]["content"]
    if "application/json" in ok and ok["application/json"]["schema"] != {"type": "object"}:
        validator(doc, ok["application/json"]["schema"]).validate(r.json())


def test_an_invalid_request_fails_the_schema_too(doc: dict[str, Any]) -> None:
    v = validator(doc, "#/components/schemas/SearchRequest")
    for bad in ({"query": "r", "limit": "10"}, {"query": "r", "limit": True}, {"limit": 3},
                {"query": "r", "sort": "price"}, {"query": "r", "filters": {"colour": "red"}},
                {"query": "r", "filters": {"stock_min": 2**63}}):
        with pytest.raises(ValidationError):
            v.validate(bad)


# -- what the server answers matches what the document says ------------------------------------

BODIES: list[tuple[str, Any, int]] = [
    # (path, body, status): every JSON-body endpoint, answered as its document says
    ("/v1/search", {"query": "10k resistor", "limit": 2}, 200),
    ("/v1/search", {"query": "10k resistor", "collections": "all", "limit": 2}, 200),
    ("/v1/search/batch", {"items": [{"query": "resistor"}, {"query": "x", "collections": "all"},
                                    {"query": ""}, 5]}, 200),
    ("/v1/lookup", {"collection": "parts", "filters": {"package": "0402"}, "limit": 2}, 200),
    ("/v1/lookup/batch", {"items": [{"limit": 1}, {"limit": "1"}]}, 200),
    ("/v1/records", {"ids": [KNOWN_ID, "C0"], "mpns": ["NOPE"]}, 200),
    ("/v1/context", {"query": "10k resistor", "max_tokens": 200}, 200),
    ("/v1/feedback", {"session_id": "s", "id": "C0", "collection": "parts",
                      "outcome": "negative"}, 404),  # the shared store's log stays empty
]


@pytest.mark.parametrize(("path", "body", "status"), BODIES,
                         ids=[f"{p} {i}" for i, (p, _b, _s) in enumerate(BODIES)])
def test_json_answers_match_the_document(doc: dict[str, Any], client: TestClient, path: str,
                                         body: Any, status: int) -> None:
    op = operation(doc, "POST", path)
    validator(doc, op["requestBody"]["content"]["application/json"]["schema"]).validate(body)
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    validator(doc, schema).validate(r.json())


def test_a_batch_answers_each_item_in_the_one_shape(doc: dict[str, Any],
                                                   client: TestClient) -> None:
    r = client.post("/v1/search/batch", json={"items": [{"query": ""}, {"query": "r"}]})
    bad, good = r.json()["results"]
    validator(doc, "#/components/schemas/ErrorBody").validate(bad)
    validator(doc, "#/components/schemas/SearchResponse").validate(good)


def test_feedback_answers_202(doc: dict[str, Any]) -> None:
    responses = operation(doc, "POST", "/v1/feedback")["responses"]
    assert responses["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeedbackResponse"}
    assert "200" not in responses and "507" in responses


def test_records_query_is_documented(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operation(doc, "GET", "/v1/records")["parameters"]}
    assert set(params) == {"ids", "mpns", "collection"}
    assert not any(p["required"] for p in params.values())



@pytest.mark.parametrize(("path", "ref"), [
    ("/v1/snapshot", "SnapshotInfo"), ("/livez", "Liveness"), ("/readyz", "Readiness"),
    (f"/v1/records/{KNOWN_ID}", "RecordResponse"),
])
def test_answers_match_their_models(doc: dict[str, Any], client: TestClient, path: str,
                                    ref: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    validator(doc, f"#/components/schemas/{ref}").validate(r.json())


def test_errors_match_the_error_model(doc: dict[str, Any], client: TestClient) -> None:
    v = validator(doc, "#/components/schemas/ErrorBody")
    for r in (client.get("/nope"), client.post("/v1/search", json={"query": ""}),
              client.get("/v1/records/C0"), client.delete("/livez")):
        assert r.status_code >= 400
        v.validate(r.json())
