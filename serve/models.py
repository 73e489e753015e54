"""The bodies the server's own endpoints answer with (search's are in ``snapsearch.search.types``,
shared with eval). The handlers build these models; the OpenAPI document is generated from them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from snapsearch.format.feedback import MAX_ID_CHARS, MAX_WEIGHT, Outcome
from snapsearch.search.types import MAX_COLLECTION_CHARS, SESSION_PATTERN


class RecordQuery(BaseModel):
    """``GET /v1/records/{id}``'s query (other parameters are ignored, as caches add them)."""

    model_config = ConfigDict(extra="ignore")

    collection: str | None = Field(
        default=None, max_length=MAX_COLLECTION_CHARS,
        description="the record's collection (default: the snapshot's first)",
    )


class RecordPath(BaseModel):
    id: str = Field(description="the record's id (parts: the LCSC id, e.g. C25744)")


class RecordResponse(BaseModel):
    id: str
    collection: str
    snapshot_id: str
    record: dict[str, Any] = Field(description="the full record, as the source gave it")


class RecordsQuery(BaseModel):
    """``GET /v1/records``'s query (``POST /v1/records`` takes the same as a JSON body,
    ``RecordsRequest``); an unknown parameter is refused."""

    model_config = ConfigDict(extra="forbid")

    ids: str | None = Field(default=None, description="record ids, comma separated (up to 100)")
    mpns: str | None = Field(
        default=None, description="manufacturer part numbers, comma separated (up to 100)"
    )
    collection: str | None = Field(
        default=None, max_length=MAX_COLLECTION_CHARS,
        description="the collection (default: the snapshot's first)",
    )


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: an outcome reported against a record of the served snapshot."""

    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={"examples": [
            {"session_id": "sess-1", "id": "C25744", "collection": "parts",
             "outcome": "positive"},
        ]},
    )

    session_id: str = Field(min_length=1, max_length=128, pattern=SESSION_PATTERN)
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="the record's id")
    collection: str = Field(min_length=1, max_length=MAX_COLLECTION_CHARS)
    outcome: Outcome
    weight: float = Field(default=1.0, gt=0.0, le=MAX_WEIGHT)


class FeedbackResponse(BaseModel):
    accepted: bool
    session_id: str
    collection: str
    id: str
    outcome: Outcome
    weight: float
    snapshot_id: str


class SnapshotInfo(BaseModel):
    """The loaded snapshot: its manifest and its gate report."""

    snapshot_id: str
    loaded_at: str = Field(description="when this server loaded it (ISO 8601 UTC)")
    manifest: dict[str, Any] = Field(
        description="manifest.json: files, counts, model pin, build settings"
    )
    gates: dict[str, Any] | None = Field(description="the gate report (null: none readable)")


class Liveness(BaseModel):
    status: Literal["alive"]


class Readiness(BaseModel):
    status: Literal["ready"]
    snapshot_id: str
    loaded_at: str
