"""Hard filters: a request's ``filters`` checked against the collection's kind, compiled to SQL
over its lookup and numeric tables, and the same test in Python (``satisfies``) for the gates and
eval, with the same tolerances.

A filter the kind does not declare is refused (``FilterNotSupported`` names the ones it has); a
value of the wrong type is refused (``InvalidFilter``, strict types: ``"10"`` is no integer,
``true`` no number).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from snapsearch.format.reader import Collection
from snapsearch.kinds.base import RecordKind
from snapsearch.kinds.filters import (
    NUMERIC_TOLERANCE,
    AtLeast,
    Equals,
    FilterSpec,
    NumericRanges,
    Positive,
)
from snapsearch.kinds.ranking import SqlWhere

from .errors import FilterNotSupported, InvalidFilter

MAX_TEXT = 200
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER


@dataclass(frozen=True)
class Range:
    attribute: str
    key: str
    min: float | None
    max: float | None

    def bounds(self) -> tuple[float, float]:
        lo = -math.inf if self.min is None else self.min - abs(self.min) * NUMERIC_TOLERANCE
        hi = math.inf if self.max is None else self.max + abs(self.max) * NUMERIC_TOLERANCE
        return lo, hi


@dataclass(frozen=True)
class Filter:
    """One validated filter: its declaration and its value (str, int, bool or ranges)."""

    spec: FilterSpec
    value: Any


# -- validation ----------------------------------------------------------------------------------


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past any float (JSON allows 1 followed by 400 zeros)
        return False


def _number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise InvalidFilter(f"{field}: must be a finite number, got {value!r}", field=field)
    return float(value)


def _text(value: Any, field: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidFilter(
            f"{field}: must be a string of 1 to {max_len} characters, got {value!r}", field=field
        )
    return value


def _ranges(spec: NumericRanges, value: Any, field: str) -> tuple[Range, ...]:
    if not isinstance(value, list) or len(value) > spec.max_items:
        raise InvalidFilter(
            f"{field}: must be a list of at most {spec.max_items} ranges "
            '[{"attribute", "key", "min", "max"}]', field=field,
        )
    out = []
    for i, item in enumerate(value):
        where = f"{field}.{i}"
        if not isinstance(item, dict):
            raise InvalidFilter(f"{where}: must be an object "
                                '{"attribute", "key", "min", "max"}', field=where)
        unknown = sorted(set(item) - {"attribute", "key", "min", "max"})
        if unknown:
            raise InvalidFilter(f"{where}: unknown field {unknown[0]!r}; allowed fields: "
                                "attribute, key, min, max", field=f"{where}.{unknown[0]}")
        for name in ("attribute", "key"):
            if name not in item:
                raise InvalidFilter(f"{where}.{name} is required", field=f"{where}.{name}")
        rng = Range(_text(item["attribute"], f"{where}.attribute"),
                    _text(item["key"], f"{where}.key", 100),
                    _number(item.get("min"), f"{where}.min"),
                    _number(item.get("max"), f"{where}.max"))
        out.append(rng)
    return tuple(out)


def _value(spec: FilterSpec, value: Any) -> Any:
    field = f"filters.{spec.name}"
    if isinstance(spec, Equals):
        text = _text(value, field)
        if spec.choices is not None and text not in spec.choices:
            raise InvalidFilter(
                f"{field}: {text!r} is not one of {', '.join(spec.choices)}", field=field
            )
        return text
    if isinstance(spec, AtLeast):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INTEGER:
            raise InvalidFilter(
                f"{field}: must be an integer from 0 to {MAX_INTEGER}, got {value!r}", field=field
            )
        return value
    if isinstance(spec, Positive):
        if not isinstance(value, bool):
            raise InvalidFilter(f"{field}: must be true or false, got {value!r}", field=field)
        return value
    return _ranges(spec, value, field)


def parse_filters(kind: RecordKind, collection: str, raw: Mapping[str, Any]) -> list[Filter]:
    """The request's filters validated against ``kind``; None values are left out."""
    specs = {s.name: s for s in kind.filter_specs()}
    out = []
    for name, value in raw.items():
        spec = specs.get(name)
        if spec is None:
            raise FilterNotSupported(name, collection, kind.name, list(specs))
        if value is None or (isinstance(spec, NumericRanges) and value == []):
            continue
        out.append(Filter(spec, _value(spec, value)))
    return out


# -- SQL -----------------------------------------------------------------------------------------


def compile_where(col: Collection, filters: Iterable[Filter]) -> SqlWhere | None:
    """One condition over ``col``'s lookup table, or None without filters."""
    clauses: list[str] = []
    params: list[Any] = []
    for f in filters:
        spec = f.spec
        if isinstance(spec, Equals):
            clauses.append(f'"{spec.column}" = ?')
            params.append(f.value)
        elif isinstance(spec, AtLeast):
            clauses.append(f'"{spec.column}" >= ?')
            params.append(f.value)
        elif isinstance(spec, Positive):
            clauses.append(f'"{spec.column}" > 0' if f.value else f'"{spec.column}" = 0')
        else:
            for rng in f.value:
                lo, hi = rng.bounds()
                sub = f"SELECT pos FROM {col.numeric} WHERE attribute = ? AND key = ?"
                sp: list[Any] = [rng.attribute, rng.key]
                if rng.min is not None:
                    sub += " AND value >= ?"
                    sp.append(lo)
                if rng.max is not None:
                    sub += " AND value <= ?"
                    sp.append(hi)
                clauses.append(f"pos IN ({sub})")
                params.extend(sp)
    if not clauses:
        return None
    return " AND ".join(clauses), params


# -- the same test in Python -----------------------------------------------------------------


def satisfies(
    filters: Iterable[Filter], columns: Mapping[str, Any],
    numeric: Iterable[tuple[str, str, str, float]],
) -> bool:
    """Whether a record with these lookup ``columns`` and ``numeric`` attributes (attribute, key,
    unit, value) — a ``Row`` as a kind writes it — passes every filter, as the SQL does."""
    numeric = list(numeric)
    for f in filters:
        spec = f.spec
        if isinstance(spec, Equals):
            if columns.get(spec.column) != f.value:
                return False
        elif isinstance(spec, AtLeast):
            v = columns.get(spec.column)
            if v is None or v < f.value:
                return False
        elif isinstance(spec, Positive):
            v = columns.get(spec.column)
            if v is None or (v > 0) != f.value:
                return False
        else:
            for rng in f.value:
                lo, hi = rng.bounds()
                if not any(a == rng.attribute and k == rng.key and lo <= x <= hi
                           for a, k, _u, x in numeric):
                    return False
    return True
