"""The needs behind the committed query suites: their format, loader and matching rule.

A needs file (``eval/suites/needs/<suite>.jsonl``) is JSONL, one need per line: a query and the
conditions that define its answer set, written by hand after reading the data. The suite builder
(:mod:`eval.suitebuilder`) turns each need into one suite line whose ``expected`` ids are the
records that match it::

    {"id": "led-red-0603", "kind": "parametric", "query": "red LED 0603",
     "where": {"subcategory": {"in": ["Light Emitting Diodes (LED)", "LED Indication - Discrete"]},
               "package": {"eq": "0603"}},
     "any_of": [{"attributes.Illumination color": {"eq": "Red"}},
                {"attributes.Emitted color": {"eq": "Red"}}]}

- ``id``, ``kind``, ``query`` (required): written to the suite line as they are; ids are unique
  in the file.
- ``filters`` (optional): the search API's filters, as in the suite format; written out.
- ``where`` (optional): constraints in the suite format; written out as the line's
  ``constraints``. A need with ``filters`` also gets the filters as constraints, translated
  (``in_stock`` -> ``stock >= 1``, ``stock_min`` -> a ``stock`` minimum, ``numeric`` ranges ->
  ``attributes_numeric`` bounds), after its own ``where``.
- ``any_of`` (optional): constraint objects; a record must satisfy at least one (e.g. a colour
  given under either of two attribute names). Not written out.
- ``text`` (optional): regexes that must all match the record's text, and ``exclude``
  (optional): a regex that must not; both case-insensitive, over the part number, description,
  subcategory and display attribute values (:func:`record_text`). Not written out.
- ``note`` (optional): why the need is written so, for the reader; the builder ignores it.

Kinds ``lcsc`` and ``mpn`` take no conditions: an ``lcsc`` need expects the part whose LCSC
number is its query, an ``mpn`` need every part whose ``mfr_part`` equals its query exactly.
Every other need expects the records that meet all of its conditions, so every expected part also
satisfies the written constraints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eval.compliance import record_satisfies
from eval.suite import validate_constraints, validate_filters

__all__ = [
    "EXACT_FIELDS",
    "NEED_KEYS",
    "Need",
    "filters_as_constraints",
    "load_needs",
    "matches",
    "parse_need",
    "record_text",
]

NEED_KEYS = frozenset({"id", "kind", "query", "filters", "where", "any_of", "text", "exclude",
                       "note"})
_CONDITION_KEYS = ("filters", "where", "any_of", "text", "exclude")
EXACT_FIELDS = {"lcsc": "lcsc", "mpn": "mfr_part"}
"""The kinds whose answer set is every record with this field equal to the query."""

Constraints = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Need:
    """One query and the conditions that define its answer set (see the module docstring)."""

    id: str
    kind: str
    query: str
    filters: dict[str, Any] | None = field(default=None, hash=False)
    where: Constraints = field(default_factory=dict, hash=False)
    any_of: tuple[Constraints, ...] = field(default=(), hash=False)
    text: tuple[str, ...] = ()
    exclude: str | None = None
    note: str | None = None

    @cached_property
    def constraints(self) -> Constraints:
        """What the suite line carries: ``where``, then the filters translated."""
        if self.filters is None:
            return self.where
        return {**self.where, **filters_as_constraints(self.filters)}


def filters_as_constraints(filters: Mapping[str, Any]) -> Constraints:
    """The search API's filters as suite constraints (``manufacturer`` has no constraint)."""
    out: Constraints = {}
    for key in ("category", "subcategory", "package", "library_type"):
        if key in filters:
            out[key] = {"eq": filters[key]}
    lo = max(1 if filters.get("in_stock") else 0, filters.get("stock_min", 0))
    if lo:
        out["stock"] = {"min": lo}
    for item in filters.get("numeric", []):
        bounds = {op: item[op] for op in ("min", "max") if item.get(op) is not None}
        out[f"attributes_numeric.{item['attribute']}.{item['key']}"] = bounds
    return out


# --- loading ----------------------------------------------------------------------------------


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: must be a non-empty string")
    return value


def _constraints(value: object, key: str) -> Constraints:
    """Constraints in the suite format; the error names ``key`` (``where.package: ...``)."""
    try:
        return validate_constraints(value)
    except ValueError as err:
        raise ValueError(key + str(err).removeprefix("constraints")) from None


def _regex(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: must be a non-empty regex string")
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"{where}: not a regex ({err})") from None
    return value


def parse_need(obj: object) -> Need:
    """Validate one decoded need; ValueError names the offending key."""
    if not isinstance(obj, dict):
        raise ValueError("line must be a JSON object")
    unknown = sorted(set(obj) - NEED_KEYS)
    if unknown:
        known = ", ".join(sorted(NEED_KEYS))
        raise ValueError(f"{unknown[0]}: unknown key; expected one of {known}")
    for key in ("id", "kind", "query"):
        if key not in obj:
            raise ValueError(f"{key}: missing")
    qid, kind, query = _text(obj, "id"), _text(obj, "kind"), _text(obj, "query")
    if kind in EXACT_FIELDS:
        given = [key for key in _CONDITION_KEYS if key in obj]
        if given:
            raise ValueError(f"{given[0]}: a need of kind {kind!r} takes no conditions")
    filters = validate_filters(obj["filters"]) if "filters" in obj else None
    where = _constraints(obj["where"], "where") if "where" in obj else {}
    any_of = obj.get("any_of", [])
    if not isinstance(any_of, list) or ("any_of" in obj and not any_of):
        raise ValueError("any_of: must be a non-empty list of constraint objects")
    for i, alternative in enumerate(any_of):
        _constraints(alternative, f"any_of[{i}]")
    text = obj.get("text", [])
    if not isinstance(text, list) or ("text" in obj and not text):
        raise ValueError("text: must be a non-empty list of regexes")
    exclude = _regex(obj["exclude"], "exclude") if "exclude" in obj else None
    return Need(
        id=qid,
        kind=kind,
        query=query,
        filters=filters,
        where=where,
        any_of=tuple(any_of),
        text=tuple(_regex(p, f"text[{i}]") for i, p in enumerate(text)),
        exclude=exclude,
        note=_text(obj, "note") if "note" in obj else None,
    )


def load_needs(path: Path) -> list[Need]:
    """Read a needs file; ValueError ``"<path>:<line>: <key>: <what is wrong>"`` on bad input."""
    path = Path(path)
    needs: list[Need] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                need = parse_need(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {err.msg}") from None
            except ValueError as err:
                raise ValueError(f"{path}:{lineno}: {err}") from None
            if need.id in seen:
                raise ValueError(
                    f"{path}:{lineno}: id: {need.id!r} already used on line {seen[need.id]}"
                )
            seen[need.id] = lineno
            needs.append(need)
    return needs


# --- matching ---------------------------------------------------------------------------------


def record_text(record: Mapping[str, Any]) -> str:
    """What ``text``/``exclude`` search: part number, description, subcategory, display values."""
    attributes = record.get("attributes") or {}
    return " ".join(
        [
            record["mfr_part"],
            record.get("description") or "",
            record["subcategory"],
            *(str(v) for v in attributes.values()),
        ]
    )


def matches(need: Need, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` (raw parts-file format) belongs to the need's answer set."""
    if need.kind in EXACT_FIELDS:
        return bool(record[EXACT_FIELDS[need.kind]] == need.query)
    constraints = need.constraints
    if constraints and not record_satisfies(record, constraints):
        return False
    if need.any_of and not any(record_satisfies(record, alt) for alt in need.any_of):
        return False
    if need.text or need.exclude:
        haystack = record_text(record)
        if not all(re.search(p, haystack, re.IGNORECASE) for p in need.text):
            return False
        if need.exclude and re.search(need.exclude, haystack, re.IGNORECASE):
            return False
    return True
