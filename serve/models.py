"""The bodies the server's own endpoints answer with (search's are in ``snapsearch.search.types``,
shared with eval). The handlers build these models; the OpenAPI document is generated from them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from snapsearch.search.types import MAX_COLLECTION_CHARS


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
