"""What a record kind declares for lookup (records by their fields, no query text): its default
order, the fields a request may sort by, its alternate key (a part number) and its recency field;
and how a kind writes a value's window.

Declarations only; ``snapsearch.search.lookup`` compiles them to SQL over the collection's lookup
table.
"""

from __future__ import annotations

from dataclasses import dataclass

# A value that holds within a window (a toleranced value: 10 kΩ ±5 % spans 9.5-10.5 kΩ) is written
# with two more numeric rows of the same attribute, keyed "<key>@min" and "<key>@max" (their unit
# likewise suffixed, so no query value ever matches them). A lookup range holds such a value only
# when the whole window lies inside it; a value without window rows is its own window.
WINDOW_MIN = "@min"
WINDOW_MAX = "@max"


@dataclass(frozen=True)
class SortKey:
    """One key of an order over a lookup column: ``ranked`` values first, in their order (then
    every other value); otherwise the column's value, ascending or ``descending``. Records
    without a value (NULL) always come last."""

    column: str
    descending: bool = False
    ranked: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.ranked:
            return f"{self.column} ({', '.join(self.ranked)}, then the rest)"
        return f"{self.column} {'descending' if self.descending else 'ascending'}"
