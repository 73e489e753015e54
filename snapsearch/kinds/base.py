"""Record kinds: the one extension point.

A kind says how a raw record (a JSON object) becomes a ``Row``: its id, the embedded text (a
template recorded in the manifest), the lexical fields with their bm25 weights, the typed filter
columns and the summary a search result shows. It also says how its collections are searched and
shown: the filters the API accepts (``filters``), what it adds to ranking (``ranker``), a one-line
display of a hit (``display``) and the queries the latency gate uses when no suite is configured
(``fallback_queries``). For lookup (records by their fields, no query text) it declares its default
order, the fields a request may sort by, its alternate key and its recency field
(``snapsearch.kinds.lookup``). Register a new kind under the entry-point group ``snapsearch.kinds``
(``name = "module:KindClass"``); nothing in the core changes.

``version`` covers everything that shapes the rows a kind writes (its template, its parsing, its
value grammar): the "inputs unchanged" shortcut compares it, so a change that alters rows without
a new version would be skipped by the next build. tests/snapsearch/kinds/test_golden.py holds a
digest of the rows of fixed records per kind and version, and fails when they drift.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from snapsearch.format.manifest import CollectionInfo
from snapsearch.format.reader import Collection
from snapsearch.format.writer import Row
from snapsearch.kinds.filters import Equals, FilterSpec
from snapsearch.kinds.lookup import SortKey
from snapsearch.kinds.ranking import Ranker

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
    # the API's filters; None: equality on every text filter column
    filters: ClassVar[tuple[FilterSpec, ...] | None] = None
    # lookup: the order records come in (then by id), the fields a request may sort by (name ->
    # lookup column), text filters matched by the kind's own rule (asked, stored) -> bool rather
    # than equality, the filter column holding an alternate key (a part number, stored as
    # ``alternate_key_value`` writes it) and the summary field holding an ISO date (``newest``)
    default_order: ClassVar[tuple[SortKey, ...]] = ()
    sortable: ClassVar[dict[str, str]] = {}
    lookup_matchers: ClassVar[dict[str, Callable[[str, str], bool]]] = {}
    alternate_key: ClassVar[str | None] = None
    recency_field: ClassVar[str | None] = None

    @abstractmethod
    def to_row(self, raw: Any) -> Row:
        """Validate and normalise one raw record; raise RejectRecord(reason) to reject it."""

    def filter_specs(self) -> tuple[FilterSpec, ...]:
        """The filters a collection of this kind answers."""
        if self.filters is not None:
            return self.filters
        return tuple(
            Equals(name, name, f"records whose {name} equals this")
            for name, kind in self.filter_columns.items() if kind == "text"
        )

    def alternate_key_value(self, text: str) -> str:
        """An alternate key as the kind stores it in its ``alternate_key`` column."""
        return " ".join(text.split())

    def ranker(self, collection: Collection) -> Ranker:
        """What this kind adds to hybrid ranking on ``collection`` (one per collection)."""
        return Ranker()

    def display(self, summary: Mapping[str, Any]) -> str:
        """One line for a hit (the CLI's result list): the summary's non-empty fields."""
        return " | ".join(str(summary[k]) for k in self.summary_fields if summary.get(k))

    def fallback_queries(self, collection: Collection, n: int) -> list[str]:
        """``n`` distinct queries drawn from the collection's own records, spread evenly over it
        (deterministic): what the latency gate measures when no query suite is configured.
        The base takes the first words of each record's summary."""

        def query(i: int, summary: Mapping[str, Any]) -> str:
            words = " ".join(str(summary[k]) for k in self.summary_fields if summary.get(k))
            return " ".join(words.split()[:8])

        return draw_queries(collection, n, query)

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


def draw_queries(
    collection: Collection, n: int, query: Callable[[int, Mapping[str, Any]], str]
) -> list[str]:
    """``n`` distinct, non-empty ``query(i, summary)`` over records spread evenly over the
    collection; when records repeat a query, more records (between those) are read."""
    first = evenly_spaced(collection.count, n)
    more = [p for p in evenly_spaced(collection.count, 4 * n) if p not in set(first)]
    out: dict[str, None] = {}
    for start in range(0, len(first) + len(more), max(n, 1)):
        positions = (first + more)[start : start + max(n, 1)]
        rows = collection.rows(positions)
        for pos in positions:
            text = " ".join(query(len(out), json.loads(rows[pos]["summary"])).split())
            if text:
                out.setdefault(text)
            if len(out) == n:
                return list(out)
    return list(out)


def evenly_spaced(count: int, n: int) -> list[int]:
    """``min(n, count)`` positions spread evenly over ``range(count)``, first and last included."""
    n = min(n, count)
    if n <= 0:
        return []
    if n == 1:
        return [0]
    return sorted({round(i * (count - 1) / (n - 1)) for i in range(n)})
