"""The search page's form: its URL query read into a search request, and back into the fields the
template renders.

The form submits with GET, so every results page has a shareable URL: ``q``, ``mode``,
``collection``, ``limit``, ``offset`` and the collection kind's filters, each by its declared name
(``package=0402``, ``in_stock=true``, ``stock_min=100``); numeric ranges as parallel
``numeric.attribute`` / ``numeric.key`` / ``numeric.min`` / ``numeric.max`` parameters, one of each
per range. The fields come from the kind's filter declarations (``snapsearch.kinds.filters``):
``Equals`` with choices is a select, without a text box; ``Positive`` a checkbox; ``AtLeast`` a
number; ``NumericRanges`` rows of attribute, key, min and max.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from snapsearch.kinds.filters import AtLeast, Equals, FilterSpec, NumericRanges, Positive
from snapsearch.search.filters import MAX_INTEGER
from snapsearch.search.types import MAX_LIMIT, MAX_OFFSET, Mode

PAGE_SIZE = 10
RESERVED = ("q", "mode", "collection", "limit", "offset")
RANGE_PARTS = ("attribute", "key", "min", "max")
MODES: tuple[str, ...] = get_args(Mode)
TRUE = ("true", "on", "1", "yes")
FALSE = ("false", "off", "0", "no")
Widget = Literal["select", "text", "checkbox", "number", "ranges"]


class FormProblem(ValueError):
    """A parameter the page cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class RangeRow:
    attribute: str = ""
    key: str = ""
    min: str = ""
    max: str = ""

    @property
    def empty(self) -> bool:
        return not (self.attribute or self.key or self.min or self.max)


@dataclass
class Field:
    """One filter as the template renders it, with the value the URL gave."""

    spec: FilterSpec
    widget: Widget
    value: str = ""
    rows: list[RangeRow] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.name.replace("_", " ")

    @property
    def choices(self) -> tuple[str, ...]:
        if isinstance(self.spec, Equals) and self.spec.choices:
            return self.spec.choices
        return ()

    @property
    def checked(self) -> bool:
        return self.value.lower() in TRUE


@dataclass
class PageForm:
    q: str
    mode: str
    collection: str
    limit: int
    offset: int
    fields: list[Field]
    filters: dict[str, Any]
    params: list[tuple[str, str]]  # the URL's own parameters that mean something, in order

    def request_body(self) -> dict[str, Any]:
        """The search request (``SearchRequest``'s fields) this form asks for."""
        return {
            "query": self.q, "mode": self.mode, "collection": self.collection,
            "limit": self.limit, "offset": self.offset, "filters": self.filters,
        }

    def url(self, **changes: int | str) -> str:
        """This page's URL with ``changes`` (``offset=20``); empty parameters left out."""
        params = [(k, v) for k, v in self.params if k not in changes]
        params += [(k, str(v)) for k, v in changes.items()]
        keep = [(k, v) for k, v in params if v != "" and not (k == "offset" and v == "0")]
        return "/?" + urlencode(keep) if keep else "/"


def _widget(spec: FilterSpec) -> Widget:
    if isinstance(spec, Equals):
        return "select" if spec.choices else "text"
    if isinstance(spec, Positive):
        return "checkbox"
    if isinstance(spec, AtLeast):
        return "number"
    return "ranges"


_WHOLE = re.compile(r"^[0-9]+(?:\.0*)?$")


def _whole(raw: str) -> int | None:
    """``"20"`` (or ``"20.0"``: JSON Schema's integer) as 20; anything else None."""
    return int(raw.split(".")[0]) if _WHOLE.match(raw) else None


def _int(params: QueryParams, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    value = _whole(raw)
    if value is None or not lo <= value <= hi:
        raise FormProblem(name, f"{name}: {raw!r} is not a whole number from {lo} to {hi}")
    return value


def _number(raw: str, where: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise FormProblem(where, f"{where}: {raw!r} is not a number (base SI units: 10k is 10000)")
    return value


def _ranges(params: QueryParams, name: str) -> tuple[list[RangeRow], list[dict[str, Any]]]:
    columns = {part: params.getlist(f"{name}.{part}") for part in RANGE_PARTS}
    count = max(len(v) for v in columns.values())
    rows = [RangeRow(*(columns[p][i].strip() if i < len(columns[p]) else "" for p in RANGE_PARTS))
            for i in range(count)]
    return _range_rows(rows, name)


def _range_rows(rows: list[RangeRow], name: str) -> tuple[list[RangeRow], list[dict[str, Any]]]:
    rows = [r for r in rows if not r.empty]
    ranges = []
    for i, row in enumerate(rows):
        where = f"{name}.{i}"
        if not row.attribute or not row.key:
            raise FormProblem(where, f"{name} range {i + 1}: give both an attribute (e.g. "
                              "Resistance) and a key (e.g. resistance), or leave the row empty")
        lo, hi = _number(row.min, f"{where}.min"), _number(row.max, f"{where}.max")
        ranges.append({"attribute": row.attribute, "key": row.key, "min": lo, "max": hi})
    return rows, ranges


def value_from_text(spec: FilterSpec, raw: str) -> Any:
    """A filter's value typed as text (a URL parameter, a command-line option) as the API takes
    it: text for ``Equals``, true/false (on/off, yes/no, 1/0) for ``Positive``, a whole number
    for ``AtLeast``; ``NumericRanges`` as ``ATTRIBUTE:KEY:MIN:MAX`` (either bound may be empty)
    or as JSON. Raises ``FormProblem`` naming the filter."""
    name = spec.name
    if isinstance(spec, Equals):
        return raw
    if isinstance(spec, Positive):
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise FormProblem(name, f"{name}: {raw!r} is not true or false")
    if isinstance(spec, AtLeast):
        value = _whole(raw)
        if value is None or value > MAX_INTEGER:
            raise FormProblem(
                name, f"{name}: {raw!r} is not a whole number from 0 to {MAX_INTEGER}"
            )
        return value
    if raw.lstrip().startswith(("[", "{")):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise FormProblem(name, f"{name}: not valid JSON: {exc}") from None
        return value if isinstance(value, list) else [value]
    parts = raw.split(":")
    if len(parts) != 4:
        raise FormProblem(name, f"{name}: {raw!r} is not ATTRIBUTE:KEY:MIN:MAX "
                          "(e.g. Resistance:resistance:9900:10100; a bound may be empty)")
    row = RangeRow(*(x.strip() for x in parts))
    _, ranges = _range_rows([row], name)
    return ranges


def _filter(spec: FilterSpec, params: QueryParams, f: Field) -> Any:
    """The filter's value for the request, or None when the form leaves it unset."""
    if isinstance(spec, NumericRanges):
        f.rows, ranges = _ranges(params, spec.name)
        return ranges or None
    raw = params.get(spec.name, "").strip()
    f.value = raw
    return value_from_text(spec, raw) if raw else None


def read_form(
    params: QueryParams, collection: str, specs: Sequence[FilterSpec]
) -> tuple[PageForm, FormProblem | None]:
    """The form for ``collection`` (whose kind declares ``specs``) as the URL fills it, every
    field kept as given (to show it again), and the first parameter it cannot use, if any."""
    problem: FormProblem | None = None

    def attempt(fn: Any, *a: Any, default: Any) -> Any:
        nonlocal problem
        try:
            return fn(*a)
        except FormProblem as exc:
            problem = problem or exc
            return default

    q = params.get("q", "").strip()
    mode = params.get("mode", "").strip() or "hybrid"
    if mode not in MODES:
        attempt(_bad_mode, mode, default=None)
        mode = "hybrid"
    limit = attempt(_int, params, "limit", PAGE_SIZE, 1, MAX_LIMIT, default=PAGE_SIZE)
    offset = attempt(_int, params, "offset", 0, 0, MAX_OFFSET, default=0)
    fields: list[Field] = []
    filters: dict[str, Any] = {}
    for spec in specs:
        if spec.name in RESERVED:
            continue  # a kind's filter cannot take a name the page uses itself
        f = Field(spec, _widget(spec))
        value = attempt(_filter, spec, params, f, default=None)
        if isinstance(spec, NumericRanges):
            f.rows.append(RangeRow())  # room for one more range
        if value is not None:
            filters[spec.name] = value
        fields.append(f)
    known = set(RESERVED) | {s.name for s in specs}
    known |= {f"{s.name}.{p}" for s in specs if isinstance(s, NumericRanges) for p in RANGE_PARTS}
    kept = [(k, v) for k, v in params.multi_items() if k in known]
    form = PageForm(q, mode, collection, limit, offset, fields, filters, kept)
    return form, problem


def _bad_mode(mode: str) -> None:
    raise FormProblem("mode", f"mode: {mode!r} is not one of {', '.join(MODES)}")
