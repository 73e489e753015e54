"""The filters a record kind offers: declarations only.

A kind lists the filters its collections answer (``RecordKind.filters``); the search API
validates a request's ``filters`` against that list, and ``snapsearch.search.filters`` compiles
them to SQL over the collection's lookup and numeric tables, with one Python check beside the
compiler (same tolerances) for gates and eval. Every filter is hard and exact: a returned record
satisfies all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMERIC_TOLERANCE = 1e-9
"""Relative slack on numeric range bounds (a bound typed as 10000 holds for a stored 9999.99999)."""


@dataclass(frozen=True)
class Equals:
    """``column = value`` on a text column; ``choices`` (if any) are the only values allowed."""

    name: str
    column: str
    description: str
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AtLeast:
    """``column >= value`` on an integer column (a non-negative integer)."""

    name: str
    column: str
    description: str


@dataclass(frozen=True)
class Positive:
    """A boolean: true keeps ``column > 0``, false keeps ``column = 0``."""

    name: str
    column: str
    description: str


@dataclass(frozen=True)
class NumericRanges:
    """``[{attribute, key, min, max}]`` over the collection's numeric attributes (base SI units);
    a record matches a range when any of its values for that attribute and key lies inside."""

    name: str = "numeric"
    description: str = (
        "ranges over numeric attributes in base SI units: "
        '[{"attribute": "Resistance", "key": "resistance", "min": 9900, "max": 10100}]'
    )
    max_items: int = 10


FilterSpec = Equals | AtLeast | Positive | NumericRanges
