"""The plain text corpus kind: BEIR's ``corpus.jsonl`` (``_id`` or ``id``, ``title``, ``text``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapsearch.format.writer import Row
from snapsearch.kinds.base import RecordKind, RejectRecord, optional_str


class TextKind(RecordKind):
    name = "text"
    version = 1
    template = "{title}. {text}"
    lexical_fields = {"title": 1.0, "text": 1.0}
    filter_columns = {}
    summary_fields = ["title", "snippet"]
    filters = ()

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
        embedded = self.template.format(title=title, text=text) if title else text
        return Row(
            id=rid.strip(),
            text=embedded,
            lexical={"title": title, "text": text},
            filters={},
            summary={"title": title, "snippet": text[:200]},
            detail={"id": rid.strip(), "title": title, "text": text},
        )
