"""Lookup: records by their fields, no query text (``POST /v1/lookup``), and records by id or
by part number (``/v1/records``).

A lookup returns every record of a collection that satisfies all its filters, in the kind's
default order (parts: Preferred, then Basic, then the rest; most stocked first; then id) or by a
field the kind lets a request sort by (``"price_usd"`` ascending, ``"-stock"`` descending; ties
in the default order); ``total`` is counted exactly. The filters are the kind's own (those of
search), read the way a components backend reads them:

- a numeric range holds a toleranced value only when the value's whole tolerance window lies
  inside it (a 10 kΩ ±5 % resistor spans 9.5-10.5 kΩ and does not satisfy 9.9-10.1 kΩ); a value
  without a tolerance is its own window;
- a text filter the kind matches by its own rule (``RecordKind.lookup_matchers``; parts:
  ``package``, normalised as search reads packages) holds for every stored value that rule
  accepts; ``qty`` keeps parts with at least that many in stock.

Exclusion rules (the request's ``exclude`` and the server's policy) drop records before the
count; how many each removed is reported for metrics.
"""

from __future__ import annotations

import json
import re
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from snapsearch.format import layout
from snapsearch.format.reader import Collection
from snapsearch.kinds import available_kinds
from snapsearch.kinds.base import RecordKind
from snapsearch.kinds.filters import Equals, NumericRanges
from snapsearch.kinds.lookup import WINDOW_MAX, WINDOW_MIN

from .engine import SearchEngine
from .errors import SearchError
from .exclusion import (
    MAX_RULES,
    Rule,
    applicable,
    check_fields,
    count_by_rule,
    excluded_where,
    parse_rules,
)
from .filters import Filter, Range, compile_where, parse_filters
from .types import (
    EXCLUDE_DESCRIPTION,
    MAX_COLLECTION_CHARS,
    MAX_LIMIT,
    NOT_BLANK,
    SESSION_PATTERN,
    Integer,
    exclude_schema,
    filters_schema,
    whole,
)

MAX_LOOKUP_OFFSET = 1_000_000
MAX_KEYS = 100
SqlPart = tuple[str, list[Any]]


class InvalidSort(SearchError):
    code = "invalid_sort"


def _sort_schema(schema: dict[str, Any]) -> None:
    """``sort``: a field the registered kinds sort by, '-' first for descending (a collection
    refuses a field its kind does not sort by)."""
    names = list(dict.fromkeys(["id", *(n for kind in available_kinds().values()
                                        for n in kind.sortable)]))
    schema["anyOf"] = [{"enum": [*names, *(f"-{n}" for n in names)]}, {"type": "null"}]


KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK.pattern}


def _one_key_at_least(schema: dict[str, Any]) -> None:
    """Ids or part numbers (or both): at least one key, each 1 to 200 characters, not blank."""
    for name in ("ids", "mpns"):
        schema["properties"][name]["items"] = dict(KEY_SCHEMA)
    schema["anyOf"] = [{"required": [name], "properties": {name: {"minItems": 1}}}
                       for name in ("ids", "mpns")]


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # nothing coerced, as in search

    collection: str | None = Field(default=None, max_length=MAX_COLLECTION_CHARS)
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="the collection kind's filters (as in search); numeric ranges hold a "
        "toleranced value only when its whole tolerance window lies inside; parts: package "
        "normalised as in search, qty: at least this many in stock",
        json_schema_extra=filters_schema,
    )
    sort: str | None = Field(
        default=None, min_length=1, max_length=41,
        description="a sortable field, ascending; '-field' descending (default: the kind's order)",
        json_schema_extra=_sort_schema,
    )
    limit: Integer = Field(default=10, ge=1, le=MAX_LIMIT)
    offset: Integer = Field(default=0, ge=0, le=MAX_LOOKUP_OFFSET)
    exclude: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_RULES, description=EXCLUDE_DESCRIPTION,
        json_schema_extra=exclude_schema,
    )
    session_id: str | None = Field(default=None, max_length=128, pattern=SESSION_PATTERN)

    @field_validator("filters")
    @classmethod
    def _whole_filters(cls, v: dict[str, Any]) -> dict[str, Any]:
        """A filter's ``100.0`` is the integer 100 too (JSON has one number type)."""
        return {k: whole(x) for k, x in v.items()}


class LookupRecord(BaseModel):
    id: str
    record: dict[str, Any]  # the kind's summary


class LookupResponse(BaseModel):
    collection: str
    snapshot_id: str
    total: int  # every record satisfying the filters (exact)
    offset: int
    limit: int
    order: list[str]  # the order applied, key by key
    records: list[LookupRecord]
    took_ms: float
    excluded: dict[str, int] = Field(default_factory=dict, exclude=True)


class RecordsRequest(BaseModel):
    """Records by id and/or by part number (the kind's alternate key)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_key_at_least)

    collection: str | None = Field(default=None, max_length=MAX_COLLECTION_CHARS)
    ids: list[str] = Field(default_factory=list, max_length=MAX_KEYS)
    mpns: list[str] = Field(default_factory=list, max_length=MAX_KEYS)

    @model_validator(mode="after")
    def _something(self) -> RecordsRequest:
        if not self.ids and not self.mpns:
            raise ValueError("give ids or mpns (or both): at least one record to fetch")
        for name, keys in (("ids", self.ids), ("mpns", self.mpns)):
            for k in keys:
                if not NOT_BLANK.search(k) or len(k) > 200:
                    raise ValueError(f"{name}: every key is 1 to 200 characters, got {k!r}")
        return self


class FoundRecord(BaseModel):
    id: str
    collection: str
    record: dict[str, Any]  # the full record
    mpn: str | None = None  # the part number asked for, when found by one


class RecordsResponse(BaseModel):
    collection: str
    snapshot_id: str
    records: list[FoundRecord]
    missing: list[str]  # ids asked for that the collection does not hold
    missing_mpns: list[str]  # part numbers no record of the collection has


# -- filters, the lookup way ----------------------------------------------------------------------

# distinct values of a column per opened collection (snapshots are immutable): keyed by the id of
# the collection's vectors, with a weak reference that tells a reused id from the same object
_DISTINCT: dict[tuple[int, str], tuple[weakref.ref[Any], list[str]]] = {}


def _distinct(col: Collection, column: str) -> list[str]:
    key = (id(col.vectors), f"{col.lookup}.{column}")
    found = _DISTINCT.get(key)
    if found is not None and found[0]() is col.vectors:
        return found[1]
    values = [str(r[0]) for r in col.conn.execute(
        f'SELECT DISTINCT "{column}" FROM {col.lookup} WHERE "{column}" IS NOT NULL')]
    if len(_DISTINCT) > 256:
        _DISTINCT.clear()
    _DISTINCT[key] = (weakref.ref(col.vectors), values)
    return values


def _matched(col: Collection, f: Filter, same: Callable[[str, str], bool]) -> SqlPart:
    assert isinstance(f.spec, Equals)
    values = [v for v in _distinct(col, f.spec.column) if same(f.value, v)]
    if not values:
        return "0", []
    return f'"{f.spec.column}" IN ({",".join("?" * len(values))})', values


def _windowed(col: Collection, rng: Range) -> SqlPart:
    """Records with a value of (attribute, key) inside the range whose tolerance window (if it
    has one) lies inside it too."""
    lo, hi = rng.bounds()
    sql = f"SELECT n.pos FROM {col.numeric} n WHERE n.attribute = ? AND n.key = ?"
    params: list[Any] = [rng.attribute, rng.key]
    outside: list[str] = []
    wparams: list[Any] = []
    if rng.min is not None:
        sql += " AND n.value >= ?"
        params.append(lo)
        outside.append("(w.key = ? AND w.value < ?)")
        wparams += [rng.key + WINDOW_MIN, lo]
    if rng.max is not None:
        sql += " AND n.value <= ?"
        params.append(hi)
        outside.append("(w.key = ? AND w.value > ?)")
        wparams += [rng.key + WINDOW_MAX, hi]
    if outside:
        sql += (f" AND NOT EXISTS (SELECT 1 FROM {col.numeric} w WHERE w.pos = n.pos AND "
                f"w.attribute = n.attribute AND ({' OR '.join(outside)}))")
        params += wparams
    return f"pos IN ({sql})", params


def lookup_where(col: Collection, kind: RecordKind, filters: Sequence[Filter]) -> SqlPart | None:
    """The filters as one condition on the lookup table (None without filters)."""
    parts: list[SqlPart] = []
    for f in filters:
        same = kind.lookup_matchers.get(f.spec.name)
        if isinstance(f.spec, NumericRanges):
            parts += [_windowed(col, rng) for rng in f.value]
        elif isinstance(f.spec, Equals) and same is not None:
            parts.append(_matched(col, f, same))
        else:
            compiled = compile_where(col, [f])
            if compiled is not None:
                parts.append(compiled)
    return _and(parts)


def _and(parts: Sequence[SqlPart | None]) -> SqlPart | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return " AND ".join(f"({s})" for s, _ in kept), [x for _, p in kept for x in p]


# -- order ----------------------------------------------------------------------------------------

_SORT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_]{0,39}$")


def order_by(kind: RecordKind, sort: str | None) -> tuple[str, list[Any], list[str]]:
    """(ORDER BY clause, its parameters, the order in words): a requested field first, then the
    kind's default order, then id."""
    keys: list[str] = []
    params: list[Any] = []
    words: list[str] = []
    sortable = {**kind.sortable, "id": "id"}
    if sort is not None:
        name = sort.removeprefix("-")
        column = sortable.get(name) if _SORT.match(sort) else None
        if column is None:
            raise InvalidSort(
                f"sort: {sort!r} is not a field collections of kind {kind.name!r} sort by; "
                f"fields: {', '.join(sortable)} (prefix '-' for descending)", field="sort",
            )
        desc = sort.startswith("-")
        keys.append(f'"{column}" IS NULL, "{column}" {"DESC" if desc else "ASC"}')
        words.append(f"{name} {'descending' if desc else 'ascending'}")
    for k in kind.default_order:
        if k.ranked:
            whens = " ".join("WHEN ? THEN " + str(i) for i in range(len(k.ranked)))
            keys.append(f'CASE "{k.column}" {whens} ELSE {len(k.ranked)} END')
            params += list(k.ranked)
        else:
            keys.append(f'"{k.column}" IS NULL, "{k.column}" {"DESC" if k.descending else "ASC"}')
        words.append(k.describe())
    keys.append("id")
    words.append("id ascending")
    return ", ".join(keys), params, words


# -- the entry points -----------------------------------------------------------------------------


def lookup(engine: SearchEngine, req: LookupRequest, policy: Sequence[Rule] = ()) -> LookupResponse:
    """Records of ``req.collection`` satisfying every filter and no exclusion rule, one page."""
    t0 = time.perf_counter()
    s = engine.searchable(req.collection)
    col, kind = s.col, s.kind
    where = lookup_where(col, kind, parse_filters(kind, col.name, req.filters))
    rules = parse_rules(req.exclude or None)
    check_fields(rules, kind, col.name)
    rules += applicable(policy, kind)
    full = _and([where, excluded_where(col, kind, rules)])
    order, oparams, words = order_by(kind, req.sort)
    # the total: the filters' count (an index does it) less what the rules removed (one pass)
    fcond = f" WHERE {where[0]}" if where else ""
    total = int(col.conn.execute(f"SELECT count(*) FROM {col.lookup}{fcond}",
                                 where[1] if where else []).fetchone()[0])
    excluded = count_by_rule(col, kind, rules, where) if rules else {}
    total -= sum(excluded.values())
    cond = f" WHERE {full[0]}" if full else ""
    rows = col.conn.execute(
        f"SELECT id, summary FROM {col.lookup}{cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*(full[1] if full else []), *oparams, req.limit, req.offset],
    ).fetchall()
    return LookupResponse(
        collection=col.name, snapshot_id=engine.snapshot.snapshot_id, total=total,
        offset=req.offset, limit=req.limit, order=words,
        records=[LookupRecord(id=r[0], record=json.loads(r[1])) for r in rows],
        took_ms=round((time.perf_counter() - t0) * 1000, 3), excluded=excluded,
    )


def _details(col: Collection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = list(ids[i : i + 500])
        q = (f"SELECT id, record FROM {layout.DETAIL_TABLE} WHERE collection = ? "
             f"AND id IN ({','.join('?' * len(chunk))})")
        out.update({str(r[0]): json.loads(r[1]) for r in col.conn.execute(q, [col.name, *chunk])})
    return out


def get_records(engine: SearchEngine, req: RecordsRequest) -> RecordsResponse:
    """Records by id, then by part number, in the order asked (each key once); a key nothing
    matches is listed in ``missing`` / ``missing_mpns``."""
    s = engine.searchable(req.collection)
    col, kind = s.col, s.kind
    ids = list(dict.fromkeys(k.strip() for k in req.ids))
    found: list[FoundRecord] = []
    details = _details(col, ids)
    missing = [i for i in ids if i not in details]
    found += [FoundRecord(id=i, collection=col.name, record=details[i])
              for i in ids if i in details]
    missing_mpns: list[str] = []
    mpns = list(dict.fromkeys(k.strip() for k in req.mpns))
    if mpns:
        key = kind.alternate_key
        if key is None:
            raise SearchError(
                f"mpns: collection {col.name!r} (kind {kind.name!r}) has no part numbers; "
                "ask for ids", field="mpns",
            )
        stored = {m: kind.alternate_key_value(m) for m in mpns}
        values = sorted(set(stored.values()))
        by_key: dict[str, list[str]] = {}
        q = (f'SELECT id, "{key}" FROM {col.lookup} WHERE "{key}" IN '
             f"({','.join('?' * len(values))}) ORDER BY id")
        for rid, value in col.conn.execute(q, values):
            by_key.setdefault(str(value), []).append(str(rid))
        mpn_details = _details(col, [r for rs in by_key.values() for r in rs])
        for m in mpns:
            rids = by_key.get(stored[m], [])
            if not rids:
                missing_mpns.append(m)
            found += [FoundRecord(id=r, collection=col.name, record=mpn_details[r], mpn=m)
                      for r in rids if r in mpn_details]
    return RecordsResponse(collection=col.name, snapshot_id=engine.snapshot.snapshot_id,
                           records=found, missing=missing, missing_mpns=missing_mpns)
