"""The plain text corpus kind: BEIR's ``corpus.jsonl`` (``_id`` or ``id``, ``title``, ``text``),
and notes or memories that also carry a date (``created_at``) and fields of their own (a
``licence``, a ``source``), kept in the full record for exclusion rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapsearch.format.writer import Row
from snapsearch.kinds.base import RecordKind, RejectRecord, optional_str

_RESERVED = ("_id", "id", "title", "text")
MAX_EXTRA_FIELDS = 20


class TextKind(RecordKind):
    name = "text"
    # 2: the full record keeps the raw record's other scalar fields (licence, source...); the
    #    summary shows ``created_at`` when the record has one
    version = 2
    template = "{title}. {text}"
    lexical_fields = {"title": 1.0, "text": 1.0}
    filter_columns = {}
    summary_fields = ["title", "snippet", "created_at"]
    filters = ()
    recency_field = "created_at"

    def display(self, summary: Mapping[str, Any]) -> str:
        return str(summary.get("title") or summary.get("snippet") or "")

    def to_row(self, raw: Any) -> Row:
        if not isinstance(raw, dict):
            raise RejectRecord("record is not a JSON object")
        rid = raw.get("_id", raw.get("id"))
        if isinstance(rid, int):
            rid = str(rid)
        if not isinstance(rid, str) or not rid.strip():
            raise RejectRecord("field '_id' (or 'id') missing or empty")
        title = optional_str(raw, "title")
        text = optional_str(raw, "text")
        if not title and not text:
            raise RejectRecord("both 'title' and 'text' are empty")
        created = optional_str(raw, "created_at")
        embedded = self.template.format(title=title, text=text) if title else text
        summary: dict[str, Any] = {"title": title, "snippet": text[:200]}
        if created:
            summary["created_at"] = created
        extra = {
            k: v for k, v in sorted(raw.items())
            if k not in _RESERVED and isinstance(v, str | int | float | bool)
        }
        if len(extra) > MAX_EXTRA_FIELDS:
            raise RejectRecord(
                f"{len(extra)} extra fields (at most {MAX_EXTRA_FIELDS} besides id, title, text)"
            )
        return Row(
            id=rid.strip(),
            text=embedded,
            lexical={"title": title, "text": text},
            filters={},
            summary=summary,
            detail={**extra, "id": rid.strip(), "title": title, "text": text},
        )
