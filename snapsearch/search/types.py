"""The search API's vocabulary: request, hits, response (shared by serve and eval).

Filters are a JSON object checked against the collection's record kind (``filters.py``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["vector", "lexical", "hybrid"]
MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_OFFSET = 900
SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    mode: Mode = "hybrid"
    collection: str | None = Field(default=None, max_length=40)
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="hard filters, checked against the collection's record kind "
        "(parts: category, subcategory, package, library_type, manufacturer, in_stock, "
        "stock_min, numeric)",
    )
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    exclude: list[dict[str, Any]] = Field(
        default_factory=list, max_length=50,
        description="exclusion rules: [{name?, field, equals | in | matches | below}] "
        "(snapsearch/search/exclusion.py)",
    )
    session_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=SESSION_PATTERN,
        description="the caller's session, carried to the access log and to feedback",
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query is blank")
        return v


class Hit(BaseModel):
    id: str
    score: float  # [0, 1]; see docs/search.md
    scores: dict[str, float]  # sub-scores: dense (cosine, clamped to [0,1]), lexical ([0,1])
    reasons: list[str]
    record: dict[str, Any]  # the record kind's summary


class SearchResponse(BaseModel):
    query: str
    mode: Mode
    collection: str
    snapshot_id: str
    total_candidates: int
    match: Literal["good", "weak", "none"]  # "none": nothing matched; never means "unavailable"
    hits: list[Hit]
    offset: int
    limit: int
    took_ms: float
    # hits each exclusion rule removed, by "<source>:<name>" (for metrics; not in the JSON)
    excluded: dict[str, int] = Field(default_factory=dict, exclude=True)
