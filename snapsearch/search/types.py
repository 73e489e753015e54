"""The search API's vocabulary: request, hits, response (shared by serve and eval).

Filters are a JSON object checked against the collection's record kind (``filters.py``).
The request is strict: ``"limit": "10"`` and ``"limit": true`` are refused, not coerced, and an
unknown field is an error. The server's OpenAPI document is generated from these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, field_validator

from snapsearch.kinds import available_kinds
from snapsearch.kinds.filters import AtLeast, Equals, FilterSpec, Positive

from .exclusion import MAX_RULES, queryable_fields, rule_json_schema
from .filters import MAX_INTEGER, MAX_TEXT

Mode = Literal["vector", "lexical", "hybrid"]
MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_OFFSET = 900
MAX_COLLECTION_CHARS = 40
MAX_COLLECTIONS = 20
NOT_BLANK = re.compile(r"[^ \t\n\r\f\v]")  # one character that is not ASCII white space

def not_blank_query(v: str) -> str:
    """``v`` when it holds a character that is not ASCII white space (the schema's pattern);
    the one blank-query check of every request model."""
    if not NOT_BLANK.search(v):
        raise ValueError("query is blank")
    return v


README_EXAMPLE: dict[str, JsonValue] = {"query": "10k 0402 resistor 1%", "limit": 3}


def whole(value: Any) -> Any:
    """JSON has one number type: ``10.0`` is the integer 10 (as JSON Schema says); a string or a
    boolean stays what it is and the strict check refuses it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(whole)]


def filter_json_schema(spec: FilterSpec) -> dict[str, Any]:
    """The JSON Schema of one declared filter's value (what ``filters.py`` accepts; null leaves
    the filter out)."""
    schema: dict[str, Any]
    if isinstance(spec, Equals):
        schema = ({"enum": list(spec.choices)} if spec.choices else
                  {"type": "string", "minLength": 1, "maxLength": MAX_TEXT})
    elif isinstance(spec, Positive):
        schema = {"type": "boolean"}
    elif isinstance(spec, AtLeast):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}
    else:
        bound = {"type": ["number", "null"]}
        schema = {"type": "array", "maxItems": spec.max_items, "items": {
            "type": "object", "additionalProperties": False, "required": ["attribute", "key"],
            "properties": {
                "attribute": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                "key": {"type": "string", "minLength": 1, "maxLength": 100},
                "min": bound, "max": bound,
            },
        }}
    return {"anyOf": [schema, {"type": "null"}], "description": spec.description}


def filters_properties() -> dict[str, Any]:
    """The filters the registered record kinds declare, by name (a collection answers its own
    kind's, and refuses the others by name)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in available_kinds().values():
        for spec in kind().filter_specs():
            one = filter_json_schema(spec)
            if one not in found.setdefault(spec.name, []):
                found[spec.name].append(one)
    return {name: options[0] if len(options) == 1 else {"anyOf": options}
            for name, options in found.items()}


def filters_schema(schema: dict[str, Any]) -> None:
    """``filters`` (a field's JSON Schema, changed in place) as the registered kinds declare
    them."""
    schema.pop("additionalProperties", None)
    schema["properties"] = filters_properties()
    schema["additionalProperties"] = False


def filters_by_collection_schema(schema: dict[str, Any]) -> None:
    """``filters`` per collection, ``{collection: filters}`` (changed in place)."""
    schema["additionalProperties"] = {"type": "object", "properties": filters_properties(),
                                      "additionalProperties": False}


def exclude_schema(schema: dict[str, Any]) -> None:
    """``exclude`` (changed in place): rules over the fields a request may read in a collection
    of a registered kind (a collection refuses a field its kind does not have)."""
    fields = list(dict.fromkeys(f for kind in available_kinds().values()
                                for f in queryable_fields(kind())))
    schema["items"] = rule_json_schema(fields)


def collections_schema(*, unique: bool) -> Any:
    """``collections``'s JSON Schema (changed in place): a list of 1 to ``MAX_COLLECTIONS``
    names (``unique``: each once), or "all"."""

    def change(schema: dict[str, Any]) -> None:
        for option in schema.get("anyOf", []):
            if option.get("type") == "array":
                option.update(minItems=1, maxItems=MAX_COLLECTIONS)
                if unique:
                    option["uniqueItems"] = True

    return change


def values_schema(value: dict[str, Any]) -> Any:
    """A ``{collection: value}`` field's JSON Schema (changed in place): each value ``value``."""

    def change(schema: dict[str, Any]) -> None:
        schema["additionalProperties"] = value

    return change


EXCLUDE_DESCRIPTION = (
    "exclusion rules: [{name?, field, and one of equals | in | matches | below}] "
    "(snapsearch/search/exclusion.py)"
)
SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={"examples": [
            README_EXAMPLE,
            {"query": "100nF 0402 capacitor", "mode": "hybrid", "limit": 5, "offset": 5,
             "collection": "parts",
             "filters": {"package": "0402", "in_stock": True, "stock_min": 1000,
                         "numeric": [{"attribute": "Capacitance", "key": "capacitance",
                                      "min": 9e-8, "max": 1.1e-7}]}},
        ]},
    )

    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, description="what to search for, in words",
        json_schema_extra={"pattern": NOT_BLANK.pattern},
    )
    limit: Integer = Field(default=10, ge=1, le=MAX_LIMIT, description="hits per page")
    offset: Integer = Field(
        default=0, ge=0, le=MAX_OFFSET, description="hits to skip (paging one fixed ranking)"
    )
    mode: Mode = Field(
        default="hybrid", description="vector (embeddings), lexical (FTS5 bm25) or hybrid (both)"
    )
    collection: str | None = Field(
        default=None, max_length=MAX_COLLECTION_CHARS,
        description="the collection to search (default: the snapshot's first)",
    )
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="hard filters, checked against the collection's record kind "
        "(parts: category, subcategory, package, library_type, manufacturer, in_stock, "
        "stock_min, numeric: [{attribute, key, min, max}] in base SI units)",
        json_schema_extra=filters_schema,
    )
    min_score: float = Field(
        default=0.0, ge=0.0, le=1.0, description="drop hits scoring below this (exact matches stay)"
    )

    exclude: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_RULES, description=EXCLUDE_DESCRIPTION,
        json_schema_extra=exclude_schema,
    )
    session_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=SESSION_PATTERN,
        description="the caller's session, carried to the access log and to feedback",
    )

    @field_validator("filters")
    @classmethod
    def _whole_filters(cls, v: dict[str, Any]) -> dict[str, Any]:
        """A filter's ``100.0`` is the integer 100 too (JSON has one number type)."""
        return {k: whole(x) for k, x in v.items()}

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return not_blank_query(v)


class Hit(BaseModel):
    id: str
    score: float = Field(description="[0, 1]; see docs/search.md")
    scores: dict[str, float] = Field(
        description="sub-scores: dense (cosine, clamped to [0,1]), lexical ([0,1])"
    )
    reasons: list[str] = Field(description="what lifted this hit")
    record: dict[str, Any] = Field(description="the record kind's summary")


class SearchResponse(BaseModel):
    query: str
    mode: Mode
    collection: str
    snapshot_id: str
    total_candidates: int = Field(description="how deep the ranking goes (for paging)")
    match: Literal["good", "weak", "none"] = Field(
        description="good; weak (nearest neighbours, not real matches); none (nothing matched). "
        "Never means 'unavailable': that is a 503"
    )
    hits: list[Hit]
    offset: int
    limit: int
    took_ms: float
    # hits each exclusion rule removed, by "<source>:<name>" (for metrics; not in the JSON)
    excluded: dict[str, int] = Field(default_factory=dict, exclude=True)
