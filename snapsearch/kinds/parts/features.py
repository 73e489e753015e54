"""The catalogue features of one parts collection, in memory: numeric attributes (by unit, sorted
by value, and by record), packages, subcategories and stock.

Read once from the snapshot's lookup and numeric tables (about 100k numeric rows for 25k parts:
a few MB, paid by the warm-up query before the server is ready), ``CHUNK`` rows at a time into
numpy arrays, so that no list of every row (and no freed heap the process keeps) is left behind;
packages and subcategories are held as codes into short lists of the distinct names. The
ranking answers "which records hold a 10k resistance" and "what does record 17 state in volts"
with array lookups instead of a scan of the numeric table per query. Every test matches the SQL
it replaces: ``BETWEEN`` bounds inclusive, ``LIKE '%word%'`` case-insensitive for ASCII only,
``ORDER BY stock DESC, pos`` with NULL stock last.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from snapsearch.format.reader import Collection
from snapsearch.kinds.parts.grammar import RATING_MATCH, Value, is_rating

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MEMO = 512  # per-word answers kept (package groups, attribute words, patterns)
CHUNK = 4096  # rows fetched at a time while building
_K = TypeVar("_K")


def ascii_upper(text: str) -> str:
    """SQLite's ``upper()``: ASCII letters only (Python's ``str.upper`` folds more)."""
    return text.translate(_ASCII_UPPER)


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class UnitRows:
    """The numeric rows of one unit, sorted by value."""

    values: np.ndarray  # float64, ascending
    pos: np.ndarray  # int64, the record of each row
    attr: np.ndarray  # int32, index into PartsFeatures.attributes


class _Codes(dict[_K, int]):
    """value -> its code, in order of first sight (a C-level dict lookup per row)."""

    def __missing__(self, key: _K) -> int:
        code = self[key] = len(self)
        return code


def _chunks(cur: sqlite3.Cursor, sql: str, size: int) -> Iterator[list[Any]]:
    """The rows of ``sql``, ``size`` at a time: no list of every row (and no heap it leaves)."""
    cur.execute(sql)
    while rows := cur.fetchmany(size):
        yield rows


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


class PartsFeatures:
    """Arrays over a parts collection's records (by position) and numeric attributes."""

    def __init__(self, col: Collection, *, chunk: int = CHUNK) -> None:
        n = col.count
        self.count = n
        cur = col.conn.cursor()
        cur.row_factory = None  # plain tuples
        # packages and subcategories as codes into short lists of the distinct names; code 0 is
        # None (NULL, or no record at that position)
        packages: _Codes[str | None] = _Codes({None: 0})
        subcategories: _Codes[str | None] = _Codes({None: 0})
        package_code = np.zeros(n, dtype=np.int32)
        subcategory_code = np.zeros(n, dtype=np.int32)
        stock = np.zeros(n, dtype=np.int64)
        stock_null = np.ones(n, dtype=bool)
        present = np.zeros(n, dtype=bool)
        # a REAL or TEXT stock sorts unlike an integer: keep SQL's order (and no stock here)
        self.sql_order_only = col.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {col.lookup} "
            "WHERE typeof(stock) NOT IN ('integer', 'null'))"
        ).fetchone()[0] == 1
        stock_sql = "0, 1" if self.sql_order_only else "ifnull(stock, 0), stock IS NULL"
        for rows in _chunks(
            cur, f"SELECT pos, package, subcategory, {stock_sql} FROM {col.lookup}", chunk
        ):
            k = len(rows)
            positions, package_names, subcategory_names, stocks, nulls = zip(*rows, strict=True)
            at = np.fromiter(positions, dtype=np.int64, count=k)
            present[at] = True
            package_code[at] = np.fromiter(map(packages.__getitem__, package_names),
                                           dtype=np.int32, count=k)
            subcategory_code[at] = np.fromiter(map(subcategories.__getitem__, subcategory_names),
                                               dtype=np.int32, count=k)
            stock[at] = np.fromiter(stocks, dtype=np.int64, count=k)
            stock_null[at] = np.fromiter(nulls, dtype=bool, count=k)
        self.package_names: list[str | None] = list(packages)
        self.package_code = package_code
        self.subcategory_names: list[str | None] = list(subcategories)
        self.subcategory_code = subcategory_code
        self.present = present
        self.present_list: list[bool] = present.tolist()
        self.stock_key = ~stock  # ascending ~stock is descending stock, without overflow
        self.stock_null = stock_null

        attributes: _Codes[str] = _Codes()
        units: _Codes[str] = _Codes()
        pos_parts: list[np.ndarray] = []
        attr_parts: list[np.ndarray] = []
        unit_parts: list[np.ndarray] = []
        value_parts: list[np.ndarray] = []
        for rows in _chunks(cur, f"SELECT pos, attribute, unit, value FROM {col.numeric}", chunk):
            k = len(rows)
            positions, attribute_names, unit_names, values = zip(*rows, strict=True)
            pos_parts.append(np.fromiter(positions, dtype=np.int64, count=k))
            attr_parts.append(np.fromiter(map(attributes.__getitem__, attribute_names),
                                          dtype=np.int32, count=k))
            unit_parts.append(np.fromiter(map(units.__getitem__, unit_names),
                                          dtype=np.int32, count=k))
            value_parts.append(np.fromiter(values, dtype=np.float64, count=k))
        pos = _joined(pos_parts, np.int64)
        attr = _joined(attr_parts, np.int32)
        value = _joined(value_parts, np.float64)
        del pos_parts, attr_parts, value_parts
        self.attributes = list(attributes)
        # unit codes by name, in sorted order
        seen = list(units)
        self.unit_names = sorted(seen)
        by_name = np.array([self.unit_names.index(u) for u in seen], dtype=np.int32)
        unit = by_name[_joined(unit_parts, np.int32)]
        del unit_parts
        # by unit, sorted by value
        order = np.lexsort((value, unit))
        bounds = np.searchsorted(unit[order], np.arange(len(self.unit_names) + 1))
        self.units: dict[str, UnitRows] = {}
        for u, name in enumerate(self.unit_names):
            sl = order[bounds[u] : bounds[u + 1]]
            self.units[name] = UnitRows(value[sl], pos[sl], attr[sl])
        # by record: CSR over positions
        order = np.argsort(pos, kind="stable")
        self.row_attr = attr[order]
        self.row_unit = unit[order]
        self.row_value = value[order]
        self.row_start = np.searchsorted(pos[order], np.arange(n + 1))
        self._packages_upper: list[str] | None = None
        self._memo: dict[tuple[str, object], np.ndarray] = {}
        self._lock = threading.Lock()

    # -- memoised per word (a query's words repeat across queries; the data never changes) ----
    def _memoised(self, key: tuple[str, object], make: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            found = self._memo.get(key)
        if found is None:
            found = make()
            with self._lock:
                if len(self._memo) >= _MEMO:
                    self._memo.pop(next(iter(self._memo)))
                self._memo[key] = found
        return found

    def attributes_where(self, test: Callable[[str], bool], key: object) -> np.ndarray:
        """Bool per attribute index: ``test(attribute)`` (memoised under ``key``)."""
        return self._memoised(
            ("attr", key), lambda: np.array([bool(test(a)) for a in self.attributes], dtype=bool)
        )

    def attributes_like(self, words: Sequence[str]) -> np.ndarray:
        """``attribute LIKE '%w%'`` for any of ``words`` (SQLite: ASCII case-insensitive)."""
        lowered = tuple(ascii_lower(w) for w in words)
        return self.attributes_where(
            lambda a: any(w in ascii_lower(a) for w in lowered), ("like", lowered)
        )

    def attributes_in(self, names: Sequence[str]) -> np.ndarray:
        wanted = frozenset(names)
        return self.attributes_where(lambda a: a in wanted, ("in", wanted))

    # -- the questions the ranking asks ----------------------------------------------------------
    def value_rows(
        self, unit: str, lo: float, hi: float, *, at_least_attrs: np.ndarray | None = None,
        attr_ok: np.ndarray | None = None,
    ) -> np.ndarray:
        """Positions with a ``unit`` row whose value is in [lo, hi] (or >= lo on an attribute
        ``at_least_attrs`` marks), on an attribute ``attr_ok`` marks (all when None)."""
        rows = self.units.get(unit)
        if rows is None:
            return np.empty(0, dtype=np.int64)
        i = int(np.searchsorted(rows.values, lo, side="left"))
        j = int(np.searchsorted(rows.values, hi, side="right"))
        keep = np.zeros(len(rows.values), dtype=bool)
        keep[i:j] = True
        if at_least_attrs is not None:
            keep[j:] |= at_least_attrs[rows.attr[j:]]
        if attr_ok is not None:
            keep &= attr_ok[rows.attr]
        return rows.pos[keep]

    def packages_like(self, groups: Sequence[str]) -> np.ndarray:
        """Bool per position: ``upper(package) LIKE '%g%'`` for every group (NULL: False)."""
        key = tuple(groups)

        def make() -> np.ndarray:
            if self._packages_upper is None:  # code 0 (None) never matches
                self._packages_upper = [ascii_upper(p or "") for p in self.package_names]
            per_code = np.array([all(g in p for g in key) for p in self._packages_upper],
                                dtype=bool)
            per_code[0] = False
            mask: np.ndarray = per_code[self.package_code]
            return mask

        return self._memoised(("pkg", key), make)

    def by_stock(self, positions: np.ndarray, limit: int) -> list[int]:
        """``ORDER BY stock DESC, pos LIMIT limit`` over ``positions``."""
        positions = np.asarray(positions, dtype=np.int64)
        order = np.lexsort((positions, self.stock_key[positions], self.stock_null[positions]))
        picked: list[int] = positions[order[:limit]].tolist()
        return picked

    def value_weights(self, v: Value, positions: Sequence[int]) -> np.ndarray:
        """``max(v.match(row) for the record's numeric rows, default 0)`` for each position, over
        arrays: 1 for a value in bounds, RATING_MATCH for a higher rating, else 0."""
        pos = np.asarray(positions, dtype=np.int64)
        out = np.zeros(len(pos), dtype=np.float64)
        if v.unit not in self.units:
            return out
        starts, ends = self.row_start[pos], self.row_start[pos + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return out
        owner = np.repeat(np.arange(len(pos)), lengths)
        rows = np.repeat(ends - lengths.cumsum(), lengths) + np.arange(total)
        attr = self.row_attr[rows]
        x = self.row_value[rows]
        ok = self.row_unit[rows] == self.unit_names.index(v.unit)
        if v.only:
            only = v.only
            ok &= self.attributes_where(
                lambda a: re.search(only, a, re.IGNORECASE) is not None, ("re", only)
            )[attr]
        lo, hi = v.bounds
        equal = ok & (lo <= x) & (x <= hi)
        w = np.where(equal, 1.0, 0.0)
        if v.at_least:
            rating = self.attributes_where(is_rating, "rating")[attr]
            w = np.where(~equal & ok & (x >= lo) & rating, RATING_MATCH, w)
        np.maximum.at(out, owner, w)
        return out
