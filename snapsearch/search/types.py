"""The search API's vocabulary: request, filters, hits, response (shared by serve and eval)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["vector", "lexical", "hybrid"]
MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_OFFSET = 900


class NumericRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attribute: str = Field(min_length=1, max_length=200)
    key: str = Field(min_length=1, max_length=100)
    min: float | None = None
    max: float | None = None


class Filters(BaseModel):
    """Hard, exact filters: every returned result satisfies all of them."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    subcategory: str | None = None
    package: str | None = None
    library_type: Literal["Basic", "Preferred", "Extended"] | None = None
    manufacturer: str | None = None
    in_stock: bool | None = None
    stock_min: int | None = Field(default=None, ge=0)
    numeric: list[NumericRange] = Field(default_factory=list, max_length=10)

    def columns(self) -> dict[str, Any]:
        """Equality filters on lookup columns."""
        out = {}
        for name in ("category", "subcategory", "package", "library_type", "manufacturer"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        return out

    def is_empty(self) -> bool:
        return (
            not self.columns() and self.in_stock is None and self.stock_min is None
            and not self.numeric
        )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    mode: Mode = "hybrid"
    collection: str | None = Field(default=None, max_length=40)
    filters: Filters = Field(default_factory=Filters)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)

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
