"""Judging part records against a suite query: constraint checks, compliance, the filters check.

The constraint and filter shapes are those of :mod:`eval.suite`; records are in the raw
parts-file format. Numeric comparisons are inclusive with a relative tolerance of ``REL_TOL``;
a missing field or a null value never satisfies a constraint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from eval.suite import (
    ATTR_NUMERIC,
    ATTR_TEXT,
    NUMERIC_FIELDS,
    STRING_FIELDS,
    is_number,
)
from snapsearch.kinds import get_kind
from snapsearch.search.filters import parse_filters, satisfies

__all__ = [
    "COMPLIANCE_DEPTH",
    "REL_TOL",
    "compliance",
    "count_satisfying",
    "filters_satisfied",
    "record_satisfies",
]

REL_TOL = 1e-6
"""Relative tolerance of numeric ``eq``/``min``/``max`` comparisons."""

COMPLIANCE_DEPTH = 10
"""At most this many top results are judged by :func:`compliance`."""


def _lookup(record: Mapping[str, Any], field: str) -> object:
    if field in STRING_FIELDS or field in NUMERIC_FIELDS:
        return record.get(field)
    if field.startswith(ATTR_NUMERIC):
        name, _, key = field[len(ATTR_NUMERIC) :].rpartition(".")
        entry = (record.get("attributes_numeric") or {}).get(name) or {}
        return (entry.get(key) or {}).get("value")
    if field.startswith(ATTR_TEXT):
        return (record.get("attributes") or {}).get(field[len(ATTR_TEXT) :])
    raise ValueError(f"constraints.{field}: unknown field")


@lru_cache(maxsize=1 << 16)
def _norm(text: str) -> str:
    return text.strip().casefold()


@lru_cache(maxsize=1 << 12)
def _norm_set(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_norm(v) for v in values)


def _condition_holds(value: object, cond: Mapping[str, Any]) -> bool:
    if value is None:
        return False
    if "in" in cond:
        return isinstance(value, str) and _norm(value) in _norm_set(tuple(cond["in"]))
    if "eq" in cond:
        target = cond["eq"]
        if isinstance(target, str):
            return isinstance(value, str) and _norm(value) == _norm(target)
        if not is_number(value):
            return False
        return math.isclose(float(value), float(target), rel_tol=REL_TOL, abs_tol=0.0)
    if not is_number(value):
        return False
    v = float(value)
    if "min" in cond and v < cond["min"] - REL_TOL * abs(cond["min"]):
        return False
    if "max" in cond and v > cond["max"] + REL_TOL * abs(cond["max"]):
        return False
    return True


def record_satisfies(
    record: Mapping[str, Any], constraints: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether a part record (the raw parts-file format) meets every constraint."""
    return all(_condition_holds(_lookup(record, f), c) for f, c in constraints.items())


def count_satisfying(
    records: Iterable[Mapping[str, Any]], constraints: Mapping[str, Mapping[str, Any]]
) -> int:
    """How many records meet every constraint (the ``satisfiable_count`` of :func:`compliance`)."""
    return sum(1 for r in records if record_satisfies(r, constraints))


def compliance(
    returned: Sequence[Mapping[str, Any]],
    constraints: Mapping[str, Mapping[str, Any]],
    satisfiable_count: int,
) -> float | None:
    """Share of the top ``m = min(10, satisfiable_count)`` returned records meeting ``constraints``.

    ``None`` when ``m == 0``: nothing in the corpus can comply, so the query is reported apart
    as unsatisfiable instead of scoring 0. Slots beyond a short result list count as failures.
    """
    if satisfiable_count < 0:
        raise ValueError(f"satisfiable_count must be >= 0, got {satisfiable_count}")
    m = min(COMPLIANCE_DEPTH, satisfiable_count)
    if m == 0:
        return None
    ok = sum(1 for r in returned[:m] if record_satisfies(r, constraints))
    return ok / m


def filters_satisfied(
    record: Mapping[str, Any], filters: Mapping[str, Any], kind: str = "parts"
) -> bool:
    """Whether a record (the raw source format) meets the search API's hard filters exactly as
    the engine applies them: the record kind writes its row, and the engine's own Python check
    (``snapsearch.search.filters.satisfies``, the twin of its SQL) judges it, same tolerances."""
    record_kind = get_kind(kind)
    row = record_kind.to_row(dict(record))
    checks = parse_filters(record_kind, kind, filters)
    return satisfies(checks, row.filters, row.numeric)
