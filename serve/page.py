"""The search page (``GET /``) and a record's page (``GET /records/{id}``): server-rendered HTML
(Jinja2 templates in ``serve/templates``), no build step, nothing fetched from elsewhere, usable
without JavaScript.

Each request reads the one snapshot loaded when it started (``routes.common.loaded``), so the page
keeps working across a cutover. States are honest: "no good match" is said, a parameter the page
cannot use is explained on the page (422), an unknown collection or record is a 404 page, and a
server still starting says so (503).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.templating import Jinja2Templates

from snapsearch.kinds import available_kinds
from snapsearch.kinds.filters import Equals, NumericRanges, Positive
from snapsearch.search.engine import Searchable
from snapsearch.search.errors import SearchError, UnknownCollection
from snapsearch.search.filters import MAX_INTEGER, MAX_TEXT, parse_filters
from snapsearch.search.types import (
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    Mode,
    SearchRequest,
    SearchResponse,
)

from .errors import ApiError
from .holder import Loaded
from .metrics import Metrics
from .models import RecordQuery
from .pageform import RESERVED, FormProblem, PageForm, read_form
from .routes.common import loaded
from .routes.search import run_search
from .routes.spec import Content, api_route
from .validation import describe_validation_error

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
HTML = Content(media_type="text/html", schema={"type": "string"}, description="an HTML page")
MAX_SUGGESTIONS = 200
LONG_VALUE = 80


class PageQuery(BaseModel):
    """The search page's own parameters (documentation: the page reads them leniently and
    explains a bad one on the page). An empty value is no value, as an HTML form sends a field
    left blank."""

    model_config = ConfigDict(extra="allow")

    q: str | None = Field(default=None, max_length=MAX_QUERY_CHARS, description="the query")
    mode: Mode | Literal[""] | None = Field(default=None, description="vector, lexical or hybrid")
    collection: str | None = Field(default=None, description="the collection to search")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] | Literal[""] | None = Field(
        default=None, description="hits per page")
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] | Literal[""] | None = Field(
        default=None, description="hits to skip")


def filter_parameters() -> list[dict[str, Any]]:
    """The page's filter parameters, as the registered record kinds declare their filters (the
    numeric ranges' parallel parameters are described in words)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in available_kinds().values():
        for spec in kind().filter_specs():
            if isinstance(spec, NumericRanges) or spec.name in RESERVED or spec.name in out:
                continue
            schema: dict[str, Any]
            if isinstance(spec, Equals):
                schema = ({"enum": ["", *spec.choices]} if spec.choices else
                          {"type": "string", "maxLength": MAX_TEXT})
            elif isinstance(spec, Positive):
                schema = {"anyOf": [{"type": "boolean"}, {"enum": [""]}]}
            else:
                schema = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_INTEGER},
                                    {"enum": [""]}]}
            out[spec.name] = {"name": spec.name, "in": "query", "required": False,
                              "schema": schema, "description": spec.description}
    return list(out.values())


# -- what the templates see ------------------------------------------------------------------


def _footer(current: Loaded | None) -> dict[str, Any]:
    if current is None:
        return {"snapshot": None}
    m = current.snapshot.manifest
    return {"snapshot": {"id": current.snapshot_id, "built_at": m.built_at,
                         "loaded_at": current.loaded_at}}


def _is_link(key: str, value: Any) -> bool:
    return key.endswith("_url") and isinstance(value, str) and value.startswith(
        ("https://", "http://"))


def record_url(record_id: str, collection: str) -> str:
    return f"/records/{quote(record_id, safe='')}?collection={quote(collection, safe='')}"


def _hit_view(s: Searchable, hit: Any, rank: int) -> dict[str, Any]:
    """One hit for the template: the kind's one-line display as its title, then the summary's
    other short fields, its links, and a long text field unless the title holds it."""
    rec: Mapping[str, Any] = hit.record
    title = s.kind.display(rec) or hit.id
    shown = {hit.id, *title.split(" | ")}
    fields, links, long_text = [], [], ""
    for key in s.kind.summary_fields:
        value = rec.get(key)
        if value in (None, "") or str(value) in shown:
            continue
        if _is_link(key, value):
            links.append((key.removesuffix("_url"), value))
        elif len(str(value)) <= LONG_VALUE:
            fields.append((key.replace("_", " "), value))
        elif not long_text:
            long_text = str(value)
    return {
        "rank": rank, "id": hit.id, "title": title, "score": hit.score, "scores": hit.scores,
        "reasons": hit.reasons, "fields": fields, "links": links, "description": long_text,
        "url": record_url(hit.id, s.col.name),
    }


def _results_view(s: Searchable, form: PageForm, resp: SearchResponse) -> dict[str, Any]:
    first = resp.offset + 1
    nxt = resp.offset + resp.limit
    return {
        "match": resp.match, "total": resp.total_candidates, "took_ms": resp.took_ms,
        "first": first, "last": resp.offset + len(resp.hits),
        "hits": [_hit_view(s, h, first + i) for i, h in enumerate(resp.hits)],
        "prev_url": form.url(offset=max(0, resp.offset - resp.limit)) if resp.offset else None,
        "next_url": form.url(offset=nxt) if nxt < resp.total_candidates and nxt <= 900 else None,
    }


_suggestion_cache: dict[tuple[str, str, str], list[str]] = {}


def _suggestions(current: Loaded, s: Searchable, column: str) -> list[str]:
    """The column's most common values (a datalist for a text filter), once per snapshot."""
    key = (current.snapshot_id, s.col.name, column)
    found = _suggestion_cache.get(key)
    if found is None:
        rows = s.col.conn.execute(
            f'SELECT "{column}", COUNT(*) AS n FROM {s.col.lookup} WHERE "{column}" != \'\' '
            f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {MAX_SUGGESTIONS}"
        ).fetchall()
        found = sorted(str(r[0]) for r in rows)
        if len(_suggestion_cache) > 64:
            _suggestion_cache.clear()
        _suggestion_cache[key] = found
    return found


def _fill_suggestions(current: Loaded, s: Searchable, form: PageForm) -> None:
    for f in form.fields:
        if isinstance(f.spec, Equals) and not f.spec.choices:
            f.suggestions = _suggestions(current, s, f.spec.column)


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200,
          current: Loaded | None = None) -> Response:
    context = {**_footer(current), **context}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def _error_page(request: Request, current: Loaded | None, status: int, title: str,
                message: str) -> Response:
    return _page(request, "error.html", {"title": title, "message": message, "status": status},
                 status, current)


def _not_ready(request: Request) -> Response:
    return _error_page(request, None, 503, "Starting",
                       "No snapshot is loaded yet: the server is starting. Reload in a moment.")


def _current(request: Request) -> Loaded | None:
    try:
        return loaded(request)
    except ApiError:
        return None


# -- the pages ---------------------------------------------------------------------------------


def routes(metrics: Metrics) -> list[BaseRoute]:
    async def search_page(request: Request) -> Response:
        current = _current(request)
        if current is None:
            return _not_ready(request)
        engine = current.engine
        collections = list(current.snapshot.collections)
        asked = request.query_params.get("collection", "").strip() or None
        try:
            s = engine.searchable(asked)
        except UnknownCollection:
            return _error_page(
                request, current, 404, "Unknown collection",
                f"There is no collection {asked!r} in snapshot {current.snapshot_id}. "
                f"Collections: {', '.join(collections)}.",
            )
        form, problem = read_form(request.query_params, s.col.name, s.kind.filter_specs())
        await anyio.to_thread.run_sync(_fill_suggestions, current, s, form)
        context: dict[str, Any] = {"form": form, "collections": collections,
                                   "kind": s.kind.name, "results": None, "error": None}
        status = 200
        if problem is None:
            try:  # the filters are checked with or without a query
                parse_filters(s.kind, s.col.name, form.filters)
            except SearchError as exc:
                problem = FormProblem(exc.field or "filters", exc.message)
        if problem is not None:
            status, context["error"] = 422, {"field": problem.field, "message": problem.message}
        elif form.q:
            try:
                req = SearchRequest.model_validate(form.request_body())
            except ValidationError as exc:
                message, field = describe_validation_error(exc, SearchRequest)
                status, context["error"] = 422, {"field": field, "message": message}
            else:
                request.state.access = {"page": True, "mode": req.mode,
                                        "query_chars": len(req.query)}
                try:
                    resp = await run_search(request, current, req)
                except ApiError as exc:
                    status = exc.status
                    context["error"] = {"field": exc.field, "message": exc.message}
                else:
                    metrics.searches.labels(req.mode, resp.match).inc()
                    context["results"] = _results_view(s, form, resp)
        return _page(request, "search.html", context, status, current)

    async def record_page(request: Request) -> Response:
        current = _current(request)
        if current is None:
            return _not_ready(request)
        record_id = request.path_params["id"]
        asked = request.query_params.get("collection", "").strip() or None
        try:
            s = current.engine.searchable(asked)
        except UnknownCollection:
            return _error_page(
                request, current, 404, "Unknown collection",
                f"There is no collection {asked!r} in snapshot {current.snapshot_id}. "
                f"Collections: {', '.join(current.snapshot.collections)}.",
            )
        found = await anyio.to_thread.run_sync(_record, s, record_id)
        if found is None:
            return _error_page(
                request, current, 404, "No such record",
                f"There is no record {record_id!r} in collection {s.col.name!r} of snapshot "
                f"{current.snapshot_id}.",
            )
        summary, detail = found
        context = {
            "id": record_id, "collection": s.col.name, "title": s.kind.display(summary),
            "rows": _tree(detail), "back": _same_site(request, request.headers.get("referer", "")),
        }
        return _page(request, "record.html", context, 200, current)

    return [
        api_route("/", search_page, summary="The search page (HTML)",
                  description="A GET form: every results page has a shareable URL. The "
                  "collection kind's filters are query parameters by their names; numeric "
                  "ranges as repeated numeric.attribute, numeric.key, numeric.min and "
                  "numeric.max, one of each per range.",
                  query=PageQuery, ok=HTML, errors=(404, 422, 503), error_content=HTML,
                  tags=("page",),
                  extra_query=filter_parameters),
        api_route("/records/{id}", record_page, summary="A record's page (HTML)",
                  query=RecordQuery, ok=HTML, errors=(404, 503), error_content=HTML,
                  tags=("page",)),
    ]


def _same_site(request: Request, url: str) -> str:
    """``url`` when it is a page of this server (the results a record was opened from)."""
    return url if url.startswith(str(request.base_url)) else ""


def _record(s: Searchable, record_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    pos = s.col.pos_of(record_id)
    detail = s.col.detail(record_id)
    if pos is None or detail is None:
        return None
    summary = json.loads(s.col.rows([pos])[pos]["summary"])
    return summary, detail


def _tree(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """A record as rows for the template: scalars as text, objects as nested rows (three levels
    deep), anything else as compact JSON."""
    rows = []
    for key, v in value.items():
        row: dict[str, Any] = {"key": str(key)}
        if isinstance(v, dict) and v and depth < 2:
            row["children"] = _tree(v, depth + 1)
        elif isinstance(v, str | int | float | bool) or v is None:
            row["text"] = "" if v is None else str(v)
            if _is_link(str(key), v):
                row["link"] = v
        else:
            row["text"] = json.dumps(v, ensure_ascii=False)
        rows.append(row)
    return rows
