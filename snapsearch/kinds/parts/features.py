"""The catalogue features of one parts collection, in memory: numeric attributes (by unit, sorted
by value, and by record), packages, subcategories and stock.

Read once from the snapshot's lookup and numeric tables (about 100k numeric rows for 25k parts:
a few MB and tens of milliseconds, paid by the warm-up query before the server is ready), so the
ranking answers "which records hold a 10k resistance" and "what does record 17 state in volts"
with array lookups instead of a scan of the numeric table per query. Every test matches the SQL
it replaces: ``BETWEEN`` bounds inclusive, ``LIKE '%word%'`` case-insensitive for ASCII only,
``ORDER BY stock DESC, pos`` with NULL stock last.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from snapsearch.format.reader import Collection
from snapsearch.kinds.parts.grammar import RATING_MATCH, Value, is_rating

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MEMO = 512  # per-word answers kept (package groups, attribute words, patterns)


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


class PartsFeatures:
    """Arrays over a parts collection's records (by position) and numeric attributes."""

    def __init__(self, col: Collection) -> None:
        n = col.count
        self.count = n
        cur = col.conn.cursor()
        cur.row_factory = None  # plain tuples
        self.package: list[str | None] = [None] * n
        self.subcategory: list[str | None] = [None] * n
        stock = np.zeros(n, dtype=np.int64)
        stock_null = np.ones(n, dtype=bool)
        present = np.zeros(n, dtype=bool)
        self.sql_order_only = False
        rows = cur.execute(f"SELECT pos, package, subcategory, stock FROM {col.lookup}").fetchall()
        if rows:
            positions, packages, subcategories, stocks = zip(*rows, strict=True)
            at = np.fromiter(positions, dtype=np.int64, count=len(rows))
            present[at] = True
            for p, package, subcategory in zip(positions, packages, subcategories, strict=True):
                self.package[p] = package
                self.subcategory[p] = subcategory
            known = [(p, st) for p, st in zip(positions, stocks, strict=True) if st is not None]
            if all(type(st) is int for _, st in known):
                idx = np.fromiter((p for p, _ in known), dtype=np.int64, count=len(known))
                stock[idx] = np.fromiter((st for _, st in known), dtype=np.int64,
                                         count=len(known))
                stock_null[idx] = False
            else:  # a REAL or TEXT stock sorts unlike an integer: keep SQL's order
                self.sql_order_only = True
        self.present = present
        self.present_list: list[bool] = present.tolist()
        self.stock_key = ~stock  # ascending ~stock is descending stock, without overflow
        self.stock_null = stock_null

        rows = cur.execute(f"SELECT pos, attribute, unit, value FROM {col.numeric}").fetchall()
        count = len(rows)
        if rows:
            positions, attributes, units, values = zip(*rows, strict=True)
        else:
            positions = attributes = units = values = ()
        attr_index = {a: i for i, a in enumerate(dict.fromkeys(attributes))}
        self.attributes = list(attr_index)
        self.unit_names = sorted(set(units))
        unit_index = {u: i for i, u in enumerate(self.unit_names)}
        pos = np.fromiter(positions, dtype=np.int64, count=count)
        attr = np.fromiter(map(attr_index.__getitem__, attributes), dtype=np.int32, count=count)
        unit = np.fromiter(map(unit_index.__getitem__, units), dtype=np.int32, count=count)
        value = np.fromiter(values, dtype=np.float64, count=count)
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
        self._package_codes: np.ndarray | None = None
        self._distinct_packages: list[str] = []
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
        codes = self._codes()
        key = tuple(groups)

        def make() -> np.ndarray:
            per_code = np.array(
                [all(g in p for g in key) for p in self._distinct_packages] + [False], dtype=bool
            )
            mask: np.ndarray = per_code[codes]
            return mask

        return self._memoised(("pkg", key), make)

    def _codes(self) -> np.ndarray:
        if self._package_codes is None:
            index: dict[str, int] = {}
            codes = [-1 if p is None else index.setdefault(ascii_upper(p), len(index))
                     for p in self.package]
            self._distinct_packages = list(index)
            self._package_codes = np.asarray(codes, dtype=np.int64)
        return self._package_codes

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
