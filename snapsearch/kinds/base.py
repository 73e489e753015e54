"""Record kinds: the one extension point.

A kind says how a raw record (a JSON object) becomes a ``Row``: its id, the embedded text (a
template recorded in the manifest), the lexical fields with their bm25 weights, the typed filter
columns and the summary a search result shows. Register a new kind under the entry-point group
``snapsearch.kinds`` (``name = "module:KindClass"``); nothing in the core changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from snapsearch.format.manifest import CollectionInfo
from snapsearch.format.writer import Row

ColumnType = Literal["text", "integer", "real"]


class RejectRecord(ValueError):
    """Raised by ``RecordKind.to_row`` for a record that cannot be indexed; the message is the
    reason."""


class RecordKind(ABC):
    name: ClassVar[str]
    version: ClassVar[int] = 1
    template: ClassVar[str]
    lexical_fields: ClassVar[dict[str, float]]
    filter_columns: ClassVar[dict[str, ColumnType]]
    summary_fields: ClassVar[list[str]]
    tokenizer: ClassVar[str] = "porter unicode61 remove_diacritics 2"

    @abstractmethod
    def to_row(self, raw: Any) -> Row:
        """Validate and normalise one raw record; raise RejectRecord(reason) to reject it."""

    def collection_info(
        self, records: int, rejects: int, tokenizer: str | None = None
    ) -> CollectionInfo:
        """The manifest's record of this kind; ``tokenizer`` overrides the kind's own."""
        return CollectionInfo(
            kind=self.name,
            kind_version=self.version,
            template=self.template,
            lexical_fields=dict(self.lexical_fields),
            filter_columns=dict(self.filter_columns),
            summary_fields=list(self.summary_fields),
            records=records,
            rejects=rejects,
            tokenizer=tokenizer or self.tokenizer,
        )


def require_str(raw: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise RejectRecord(f"field {key!r} missing or not a string")
    value = " ".join(value.split())
    if not value and not allow_empty:
        raise RejectRecord(f"field {key!r} is empty")
    return value


def optional_str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RejectRecord(f"field {key!r} is not a string")
    return " ".join(value.split())
