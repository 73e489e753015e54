"""Exclusion rules: records kept out of results, by a field's value.

One rule shape everywhere (the build settings' rules file, a request's ``exclude``, the server's
policy)::

    {"name": "obsolete",   "field": "status",       "equals": "Obsolete"}
    {"name": "denylist",   "field": "manufacturer", "in": ["ACME", "Foo Corp"]}
    {"name": "no-nc",      "field": "licence",      "matches": "(?i)non-commercial"}
    {"name": "low-stock",  "field": "stock",        "below": 100}

A record is excluded when any rule holds for it. ``equals`` and ``in`` compare exactly (a string
to a string, a number to a number); ``matches`` is a regular expression searched in a string
value; ``below`` holds for a number smaller than the floor. A record without the field (or with
a value of another type) is never excluded by that rule.

Which fields a rule reads: at build, the record as the kind writes it (its filter columns, then
its summary, then its full record: a raw field such as a text record's ``licence`` is there); at
query time, the collection's lookup columns and the kind's summary fields. ``matches_record`` is
the one test in Python; ``sql_condition`` compiles the same test for the lookup table, and a test
holds the two to the same answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from snapsearch.format.reader import Collection
from snapsearch.kinds.base import RecordKind

from .errors import SearchError
from .filters import MAX_INTEGER

Op = Literal["equals", "in", "matches", "below"]
OPS: tuple[Op, ...] = ("equals", "in", "matches", "below")
Source = Literal["build", "request", "policy"]
MAX_RULES = 50
MAX_IN = 1000
MAX_PATTERN = 200
MAX_TEXT = 200
# a rule's numbers lie within +-2**1023: exact both as a float and as the JSON integer the
# document writes, so a JSON Schema validator (decimal) and this parser agree at the bound
MAX_NUMBER = 2**1023
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class InvalidRule(SearchError):
    code = "invalid_exclude"


Scalar = str | int | float | bool


@dataclass(frozen=True)
class Rule:
    name: str
    field: str
    op: Op
    value: Any  # equals: a scalar; in: a frozenset of scalars; matches: re.Pattern; below: float
    source: Source = "request"

    @property
    def label(self) -> str:
        """``<source>:<name>``: how counts name the rule."""
        return f"{self.source}:{self.name}"

    def holds(self, value: Any) -> bool:
        """Whether this rule excludes a record whose field has ``value`` (None: no field)."""
        if value is None:
            return False
        if self.op == "equals":
            return _same_type(value, self.value) and bool(value == self.value)
        if self.op == "in":
            return any(_same_type(value, v) and value == v for v in self.value)
        if self.op == "matches":
            return isinstance(value, str) and self.value.search(value) is not None
        return _is_number(value) and value < self.value

    def describe(self) -> dict[str, Any]:
        """The rule as it was given (for the manifest)."""
        v: Any = self.value
        if self.op == "in":
            v = sorted(self.value, key=lambda x: (type(x).__name__, str(x)))
        elif self.op == "matches":
            v = self.value.pattern
        return {"name": self.name, "field": self.field, self.op: v}


def _is_number(v: Any) -> bool:
    """A number, true/false included (JSON's true and false are SQLite's 1 and 0)."""
    return isinstance(v, int | float)


def _same_type(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


# -- parsing -------------------------------------------------------------------------------------


def _bad(where: str, message: str) -> InvalidRule:
    return InvalidRule(f"{where}: {message}", field=where)


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, str):
        if not value or len(value) > MAX_TEXT:
            raise _bad(where, f"must be a string of 1 to {MAX_TEXT} characters")
        return value
    if _is_number(value):
        return _number(value, where)
    raise _bad(where, f"must be a string, a number or true/false, got {value!r}")


def _number(value: int | float, where: str) -> int | float:
    """A number SQLite can compare with: an integer past its 64 bits is the float it is near
    (JSON has one number type), and the number must be finite."""
    if not (isinstance(value, bool) or -MAX_NUMBER <= value <= MAX_NUMBER):  # exact comparisons
        raise _bad(where, f"must be a finite number from -2**1023 to 2**1023 (~{MAX_NUMBER:.3g})")
    if isinstance(value, int) and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        value = float(value)
    return value


def rule_json_schema(fields: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of one rule as ``parse_rule`` accepts it, its field one of ``fields``."""
    number = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    scalar = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_TEXT}, number,
                        {"type": "boolean"}]}
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": _NAME.pattern,
                     "description": "how counts name it (default: field-op); each rule its own"},
            "field": {"enum": list(fields), "description": "the record field it reads"},
            "equals": scalar,
            "in": {"type": "array", "items": scalar, "minItems": 1, "maxItems": MAX_IN},
            "matches": {"type": "string", "minLength": 1, "maxLength": MAX_PATTERN,
                        "format": "regex", "description": "a regular expression (Python's)"},
            "below": number,
        },
        "required": ["field"],
        "additionalProperties": False,
        "oneOf": [{"required": [op]} for op in OPS],  # exactly one of them
    }


def parse_rule(raw: Any, where: str, source: Source = "request") -> Rule:
    """One rule from its JSON shape; ``where`` names it in errors (``exclude.0``)."""
    shape = '{"name"?, "field", and one of "equals", "in", "matches", "below"}'
    if not isinstance(raw, dict):
        raise _bad(where, f"a rule is an object {shape}")
    unknown = sorted(set(raw) - {"name", "field", *OPS})
    if unknown:
        raise InvalidRule(
            f"{where}: unknown field {unknown[0]!r}; a rule is {shape}",
            field=f"{where}.{unknown[0]}",
        )
    field = raw.get("field")
    if not isinstance(field, str) or not _FIELD.match(field):
        raise _bad(f"{where}.field", "must name a record field (letters, digits, '_')")
    ops = [op for op in OPS if op in raw]
    if len(ops) != 1:
        raise _bad(where, f"give exactly one of equals, in, matches, below (got {len(ops)})")
    op = ops[0]
    value: Any = raw[op]
    at = f"{where}.{op}"
    if op == "equals":
        value = _scalar(value, at)
    elif op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
            raise _bad(at, f"must be a list of 1 to {MAX_IN} values")
        value = frozenset(_scalar(v, f"{at}.{i}") for i, v in enumerate(value))
    elif op == "matches":
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_PATTERN:
            raise _bad(at, f"must be a regular expression of 1 to {MAX_PATTERN} characters")
        try:
            value = re.compile(value)
        except re.error as exc:
            raise _bad(at, f"is not a valid regular expression: {exc}") from None
    else:
        if not _is_number(value) or isinstance(value, bool):
            raise _bad(at, f"must be a number, got {value!r}")
        value = float(_number(value, at))
    name = raw.get("name")
    if name is None:
        name = f"{field}-{op}"
    elif not isinstance(name, str) or not _NAME.match(name):
        raise _bad(f"{where}.name", "must be 1 to 64 letters, digits or '_.:-'")
    return Rule(name, field, op, value, source)


def parse_rules(raw: Any, where: str = "exclude", source: Source = "request") -> list[Rule]:
    """A list of rules; names must be distinct."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise _bad(where, f"must be a list of at most {MAX_RULES} rules")
    rules = [parse_rule(r, f"{where}.{i}", source) for i, r in enumerate(raw)]
    names = [r.name for r in rules]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise _bad(f"{where}.{i}.name", f"rule name {n!r} repeats: give each rule its own")
    return rules


# -- which field a rule reads --------------------------------------------------------------------


def queryable_fields(kind: RecordKind) -> list[str]:
    """The fields a query-time rule may read in a collection of ``kind``."""
    return list(dict.fromkeys(["id", *kind.filter_columns, *kind.summary_fields]))


def check_fields(rules: Iterable[Rule], kind: RecordKind, collection: str) -> None:
    """Refuse a request rule over a field this collection's records do not have."""
    have = queryable_fields(kind)
    for i, r in enumerate(rules):
        if r.source == "request" and r.field not in have:
            raise InvalidRule(
                f"exclude.{i}.field: collection {collection!r} (kind {kind.name!r}) has no field "
                f"{r.field!r}; its fields: {', '.join(have)}", field=f"exclude.{i}.field",
            )


def applicable(rules: Iterable[Rule], kind: RecordKind) -> list[Rule]:
    """The rules that read a field this kind has (a policy rule over another kind's field does
    not apply to this collection)."""
    have = set(queryable_fields(kind))
    return [r for r in rules if r.field in have]


def record_view(columns: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """What a query-time rule reads: the summary, overridden by the lookup columns (and id)."""
    return {**summary, **columns}


def build_view(row_filters: Mapping[str, Any], summary: Mapping[str, Any],
               detail: Mapping[str, Any], record_id: str) -> dict[str, Any]:
    """What a build-time rule reads: the full record, then the summary, then the filter columns
    (the last wins), and the id."""
    return {**detail, **summary, **row_filters, "id": record_id}


def first_rule(rules: Sequence[Rule], record: Mapping[str, Any]) -> Rule | None:
    """The first rule that excludes ``record``, or None when it is kept."""
    for r in rules:
        if r.holds(record.get(r.field)):
            return r
    return None


def matches_record(rules: Sequence[Rule], record: Mapping[str, Any]) -> bool:
    return first_rule(rules, record) is not None


# -- SQL over a collection's lookup table -------------------------------------------------------

def _regexp(pattern: str, value: Any) -> int:
    return int(isinstance(value, str) and re.search(pattern, value) is not None)


_FUNCTIONS_LOCK = threading.Lock()


def ensure_sql_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the REGEXP function ``matches`` compiles to, unless it has it (once: a
    function is never redefined while a statement may use it)."""
    with _FUNCTIONS_LOCK:
        try:
            conn.execute("SELECT regexp('', '')").fetchone()
        except sqlite3.OperationalError:
            conn.create_function("regexp", 2, _regexp, deterministic=True)


def _expr(kind: RecordKind, field: str) -> tuple[str, str, list[Any]]:
    """(value expression, type expression, the parameters each reads) for ``field``: a lookup
    column, or a summary field read from the summary's JSON."""
    if field == "id" or field in kind.filter_columns:
        return f'"{field}"', f'typeof("{field}")', []
    return "json_extract(summary, ?)", "json_type(summary, ?)", [f'$."{field}"']


_NUMBER_TYPES = "('integer', 'real', 'true', 'false')"


def sql_condition(kind: RecordKind, rule: Rule) -> tuple[str, list[Any]]:
    """A condition on a lookup table: 1 where ``rule`` excludes the row, else 0 (never NULL, so
    ``NOT (...)`` keeps rows without the field)."""
    expr, typ, p = _expr(kind, rule.field)

    def compare(v: Any) -> tuple[str, list[Any]]:
        types = _NUMBER_TYPES if _is_number(v) or isinstance(v, bool) else "('text')"
        return f"({typ} IN {types} AND {expr} = ?)", [*p, *p, v]

    if rule.op == "equals":
        c, params = compare(rule.value)
        return f"COALESCE({c}, 0)", params
    if rule.op == "in":
        parts, params = [], []
        for v in sorted(rule.value, key=lambda x: (type(x).__name__, str(x))):
            c, cp = compare(v)
            parts.append(c)
            params += cp
        return f"COALESCE({' OR '.join(parts)}, 0)", params
    if rule.op == "matches":
        return (f"COALESCE({typ} = 'text' AND regexp(?, {expr}), 0)",
                [*p, rule.value.pattern, *p])
    return f"COALESCE({typ} IN {_NUMBER_TYPES} AND {expr} < ?, 0)", [*p, *p, rule.value]


def excluded_where(
    col: Collection, kind: RecordKind, rules: Sequence[Rule]
) -> tuple[str, list[Any]] | None:
    """``NOT (any rule holds)`` over the lookup table, or None without rules."""
    if not rules:
        return None
    ensure_sql_functions(col.conn)
    conds, params = [], []
    for r in rules:
        c, p = sql_condition(kind, r)
        conds.append(c)
        params += p
    return f"NOT ({' OR '.join(conds)})", params


def count_by_rule(
    col: Collection, kind: RecordKind, rules: Sequence[Rule], where: tuple[str, list[Any]] | None,
) -> dict[str, int]:
    """How many rows in ``where`` each rule removes (a row counts for the first rule that holds,
    as ``first_rule`` does)."""
    if not rules:
        return {}
    ensure_sql_functions(col.conn)
    sums, params = [], []
    earlier: list[tuple[str, list[Any]]] = []
    for r in rules:
        c, p = sql_condition(kind, r)
        prior = " AND ".join(f"NOT ({ec})" for ec, _ in earlier) or "1"
        sums.append(f"SUM(CASE WHEN {prior} AND {c} THEN 1 ELSE 0 END)")
        params += [x for _, ep in earlier for x in ep] + p
        earlier.append((c, p))
    sql = f"SELECT {', '.join(sums)} FROM {col.lookup}"
    if where is not None:
        sql += f" WHERE {where[0]}"
        params += where[1]
    row = col.conn.execute(sql, params).fetchone()
    return {r.label: int(row[i] or 0) for i, r in enumerate(rules) if row[i]}


def drop_excluded(
    col: Collection, kind: RecordKind, positions: Sequence[int], rules: Sequence[Rule],
) -> tuple[set[int], Counter[str]]:
    """The ``positions`` the rules exclude (read from the lookup table), and how many each rule
    removed (by ``Rule.label``)."""
    dropped: set[int] = set()
    counts: Counter[str] = Counter()
    if not rules or not positions:
        return dropped, counts
    rows = col.rows(positions)
    columns = ["id", *kind.filter_columns]
    for pos in positions:
        row = rows.get(pos)
        if row is None:
            continue
        view = record_view({c: row[c] for c in columns}, json.loads(row["summary"]))
        hit = first_rule(rules, view)
        if hit is not None:
            dropped.add(pos)
            counts[hit.label] += 1
    return dropped, counts


def load_rules_file(path: Path, source: Source) -> list[Rule]:
    """Rules from a JSON file: a list of rules, or ``{"rules": [...]}``. ValueError says what is
    wrong (the settings name the variable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the rules file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"the rules file {path} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"rules"}:
        data = data["rules"]
    try:
        return parse_rules(data, "rules", source)
    except InvalidRule as exc:
        raise ValueError(f"the rules file {path}: {exc.message}") from None
