"""The catalogue query-suite format: the query record, its validation and loading.

A suite is JSONL, one query per line (blank lines are skipped)::

    {"id": "p-10k-0402", "kind": "parametric", "query": "10k 0402 resistor 1%",
     "expected": ["C25744"],
     "filters": {"package": "0402", "library_type": "Basic", "in_stock": true,
                 "numeric": [{"attribute": "Resistance", "key": "resistance",
                              "min": 9000, "max": 11000}]},
     "constraints": {"package": {"eq": "0402"},
                     "attributes_numeric.Resistance.resistance": {"min": 10000, "max": 10000}}}

Only ``query`` is required. ``id`` (unique in the file) defaults to ``line-<n>``; ``kind`` is a
free label ("lcsc", "mpn", "parametric", "filtered", "natural", "misspelled", "unsatisfiable").
``expected`` lists the relevant part ids. ``filters`` are what a caller passes to the search API
(``category``, ``subcategory``, ``package``, ``library_type``, ``manufacturer``: exact strings;
``in_stock``: bool; ``stock_min``: int; ``numeric``: ``[{"attribute", "key", "min", "max"}]``).
``constraints`` are what a returned part must satisfy to count as compliant. A constraint maps a
field to one operator object:

- ``category``, ``subcategory``, ``package``, ``library_type``: ``{"eq": str}`` or
  ``{"in": [str, ...]}``; compared case-insensitively after stripping whitespace;
- ``stock`` and ``attributes_numeric.<attribute name>.<key>``: ``{"eq": number}`` or
  ``{"min": a, "max": b}`` (either bound may be left out); inclusive, with a relative tolerance
  of 1e-6; values in base SI units as in the parts file;
- ``attributes.<attribute name>``: ``{"eq": str}`` or ``{"in": [str, ...]}`` on the display
  string (e.g. ``"attributes.Tolerance": {"eq": "±1%"}``), for the attributes that carry no number.

``in`` and ``attributes.<name>`` extend the minimal format: the catalogue spells one package or one
kind of part several ways ("SMA(DO-214AC)", "DO-214AC(SMA)", "SMA"), and tolerance, channel type,
colour or crystal frequency exist only as display strings. A missing field or a null value never
satisfies a constraint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

__all__ = [
    "ATTR_NUMERIC",
    "ATTR_TEXT",
    "CONSTRAINT_FIELDS",
    "FILTER_KEYS",
    "FILTER_STRING_KEYS",
    "LIBRARY_TYPES",
    "NUMERIC_FIELDS",
    "QUERY_KEYS",
    "STRING_FIELDS",
    "SuiteQuery",
    "load_suite",
    "parse_query",
    "validate_constraints",
    "is_number",
    "validate_filters",
]

QUERY_KEYS = frozenset({"id", "query", "expected", "filters", "kind", "constraints"})
FILTER_KEYS = frozenset(
    {
        "category",
        "subcategory",
        "package",
        "library_type",
        "manufacturer",
        "in_stock",
        "stock_min",
        "numeric",
    }
)
FILTER_STRING_KEYS = ("category", "subcategory", "package", "library_type", "manufacturer")
LIBRARY_TYPES = ("Basic", "Preferred", "Extended")
_NUMERIC_FILTER_KEYS = frozenset({"attribute", "key", "min", "max"})

STRING_FIELDS = frozenset({"category", "subcategory", "package", "library_type"})
NUMERIC_FIELDS = frozenset({"stock"})
ATTR_NUMERIC = "attributes_numeric."
ATTR_TEXT = "attributes."
CONSTRAINT_FIELDS = (
    *sorted(STRING_FIELDS),
    *sorted(NUMERIC_FIELDS),
    ATTR_NUMERIC + "<attribute name>.<key>",
    ATTR_TEXT + "<attribute name>",
)


@dataclass(frozen=True)
class SuiteQuery:
    """One query of a suite. ``id`` defaults to ``"line-<n>"`` when the line has none."""

    id: str
    query: str
    expected: tuple[str, ...] | None = None
    filters: dict[str, Any] | None = dataclass_field(default=None, hash=False)
    kind: str | None = None
    constraints: dict[str, dict[str, Any]] | None = dataclass_field(default=None, hash=False)

    def gains(self) -> dict[str, float]:
        """Binary relevance for :func:`eval.metrics.ndcg_at_k`: 1.0 per expected id."""
        return {part: 1.0 for part in self.expected or ()}


# --- validation -------------------------------------------------------------------------------


def is_number(value: object) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _field_kind(field: str) -> str:
    """``"string"`` or ``"number"``; raises ValueError for a field the format does not know."""
    if field in STRING_FIELDS:
        return "string"
    if field in NUMERIC_FIELDS:
        return "number"
    if field.startswith(ATTR_NUMERIC):
        name, sep, key = field[len(ATTR_NUMERIC) :].rpartition(".")
        if not sep or not name or not key:
            raise ValueError(
                f"must be {ATTR_NUMERIC}<attribute name>.<key>, e.g. "
                f"{ATTR_NUMERIC}Resistance.resistance"
            )
        return "number"
    if field.startswith(ATTR_TEXT) and len(field) > len(ATTR_TEXT):
        return "string"
    raise ValueError(f"unknown field; expected one of {', '.join(CONSTRAINT_FIELDS)}")


def _validate_condition(kind: str, cond: object) -> None:
    if not isinstance(cond, dict) or not cond:
        raise ValueError('must be an object such as {"eq": v} or {"min": a, "max": b}')
    ops = set(cond)
    if kind == "string":
        if ops == {"eq"}:
            if not isinstance(cond["eq"], str) or not cond["eq"].strip():
                raise ValueError('"eq" must be a non-empty string')
            return
        if ops == {"in"}:
            values = cond["in"]
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) and v.strip() for v in values)
            ):
                raise ValueError('"in" must be a non-empty list of non-empty strings')
            return
        raise ValueError(f'string field takes {{"eq": str}} or {{"in": [str]}}, got {sorted(ops)}')
    if ops == {"eq"}:
        if not is_number(cond["eq"]):
            raise ValueError('"eq" must be a number')
        return
    if not ops <= {"min", "max"}:
        raise ValueError(f'numeric field takes {{"eq": n}} or {{"min", "max"}}, got {sorted(ops)}')
    for op in ("min", "max"):
        if op in cond and not is_number(cond[op]):
            raise ValueError(f'"{op}" must be a number')
    if "min" in cond and "max" in cond and cond["min"] > cond["max"]:
        raise ValueError(f'"min" ({cond["min"]}) is greater than "max" ({cond["max"]})')


def validate_constraints(constraints: object) -> dict[str, dict[str, Any]]:
    """Return ``constraints`` if well formed; else ValueError naming ``constraints.<field>``."""
    if not isinstance(constraints, dict) or not constraints:
        raise ValueError("constraints: must be a non-empty object {field: condition}")
    for field, cond in constraints.items():
        try:
            _validate_condition(_field_kind(field), cond)
        except ValueError as err:
            raise ValueError(f"constraints.{field}: {err}") from None
    return constraints


def validate_filters(filters: object) -> dict[str, Any]:
    """Return ``filters`` if well formed; else ValueError naming ``filters.<key>``."""
    if not isinstance(filters, dict):
        raise ValueError("filters: must be an object")
    for key, value in filters.items():
        where = f"filters.{key}"
        if key not in FILTER_KEYS:
            raise ValueError(
                f"{where}: unknown key; expected one of {', '.join(sorted(FILTER_KEYS))}"
            )
        if key in FILTER_STRING_KEYS:
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where}: must be a non-empty string")
            if key == "library_type" and value not in LIBRARY_TYPES:
                raise ValueError(f"{where}: must be one of {', '.join(LIBRARY_TYPES)}")
        elif key == "in_stock":
            if not isinstance(value, bool):
                raise ValueError(f"{where}: must be true or false")
        elif key == "stock_min":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: must be an integer >= 0")
        else:
            _validate_numeric_filters(value)
    return filters


def _validate_numeric_filters(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValueError("filters.numeric: must be a non-empty list")
    for i, item in enumerate(value):
        where = f"filters.numeric[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: must be an object")
        unknown = set(item) - _NUMERIC_FILTER_KEYS
        if unknown:
            raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown key")
        for key in ("attribute", "key"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ValueError(f"{where}.{key}: must be a non-empty string")
        if "min" not in item and "max" not in item:
            raise ValueError(f"{where}: needs min, max or both")
        for key in ("min", "max"):
            if key in item and not is_number(item[key]):
                raise ValueError(f"{where}.{key}: must be a number")
        if "min" in item and "max" in item and item["min"] > item["max"]:
            raise ValueError(f"{where}: min is greater than max")


def _require_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: must be a non-empty string")
    return value


def parse_query(obj: object, *, default_id: str) -> SuiteQuery:
    """Validate one decoded suite line; ValueError names the offending field."""
    if not isinstance(obj, dict):
        raise ValueError("line must be a JSON object")
    unknown = sorted(set(obj) - QUERY_KEYS)
    if unknown:
        raise ValueError(
            f"{unknown[0]}: unknown key; expected one of {', '.join(sorted(QUERY_KEYS))}"
        )
    if "query" not in obj:
        raise ValueError("query: missing")
    query = _require_str(obj, "query")
    qid = _require_str(obj, "id") if "id" in obj else default_id
    kind = _require_str(obj, "kind") if "kind" in obj else None
    expected: tuple[str, ...] | None = None
    if "expected" in obj:
        ids = obj["expected"]
        if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
            raise ValueError("expected: must be a list of non-empty id strings")
        if len(set(ids)) != len(ids):
            raise ValueError("expected: has duplicate ids")
        expected = tuple(ids)
    filters = validate_filters(obj["filters"]) if "filters" in obj else None
    constraints = validate_constraints(obj["constraints"]) if "constraints" in obj else None
    return SuiteQuery(
        id=qid,
        query=query,
        expected=expected,
        filters=filters,
        kind=kind,
        constraints=constraints,
    )


def load_suite(path: Path) -> list[SuiteQuery]:
    """Read a JSONL suite; ValueError ``"<path>:<line>: <field>: <what is wrong>"`` on bad input."""
    path = Path(path)
    queries: list[SuiteQuery] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {err.msg}") from None
            try:
                q = parse_query(obj, default_id=f"line-{lineno}")
            except ValueError as err:
                raise ValueError(f"{path}:{lineno}: {err}") from None
            if q.id in seen:
                raise ValueError(f"{path}:{lineno}: id: {q.id!r} already used on line {seen[q.id]}")
            seen[q.id] = lineno
            queries.append(q)
    return queries
