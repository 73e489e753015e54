"""The parts ranking answers from its features in memory exactly what the SQL it replaced
answered: the feature candidates (values, ratings, pin words, packages, hard filters, stock
order) and every candidate's score and reasons."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.suite import load_suite
from snapsearch.format.links import resolve_current
from snapsearch.format.reader import Collection, open_snapshot
from snapsearch.kinds.parts.features import PartsFeatures, ascii_lower, ascii_upper
from snapsearch.kinds.parts.grammar import package_groups, package_matches
from snapsearch.kinds.parts.ranking import (
    FEATURE_CANDIDATES,
    FEATURE_LABELS,
    FUSED_SHARE,
    PartsRanker,
    Understood,
)
from snapsearch.kinds.ranking import Ranked, SqlWhere
from tests.conftest import REPO

SUITES = [REPO / "eval" / "suites" / f"{name}.jsonl" for name in ("parts-sample", "parts-25k")]
EXTRA = ["16P header", "2x5 pin header", "25V 10uF", "3A inductor", "1W 2512", "0402", "10k",
         "SOT-23-5 5V", "100nF 50V", "12mhz crystal 3225", "1%"]
WHERES: list[SqlWhere | None] = [
    None, ("stock > 0", []), ("package = ?", ["0402"]), ("library_type = ?", ["Extended"]),
]


def queries() -> list[str]:
    out = [q.query for path in SUITES for q in load_suite(path)] + EXTRA
    return list(dict.fromkeys(out))


def sql_candidates(ranker: PartsRanker, query: Understood, where: SqlWhere | None) -> list[int]:
    """The feature candidates as one SQL statement (what the features in memory replaced)."""
    values, packages = query.values, query.packages
    if not values:
        return []
    col = ranker.col
    ratings = ranker.rating_attributes()
    clauses: list[str] = []
    params: list[Any] = []
    for v in values:
        lo, hi = v.bounds
        cond, cp = "value BETWEEN ? AND ?", [lo, hi]
        rated = ratings.get(v.unit, []) if v.at_least else []
        if rated:
            cond = f"({cond} OR (value >= ? AND attribute IN ({','.join('?' * len(rated))})))"
            cp += [lo, *rated]
        if v.only:
            names = v.only.split("|")
            cond += " AND (" + " OR ".join("attribute LIKE ?" for _ in names) + ")"
            cp += [f"%{w}%" for w in names]
        clauses.append(f"pos IN (SELECT pos FROM {col.numeric} WHERE unit = ? AND {cond})")
        params += [v.unit, *cp]
    if packages:
        ors = []
        for pkg in packages:
            groups = package_groups(pkg)
            ors.append("(" + " AND ".join("upper(package) LIKE ?" for _ in groups) + ")")
            params += [f"%{g}%" for g in groups]
        clauses.append("(" + " OR ".join(ors) + ")")
    if where is not None:
        clauses.append(f"({where[0]})")
        params.extend(where[1])
    sql = (f"SELECT pos FROM {col.lookup} WHERE {' AND '.join(clauses)} "
           "ORDER BY stock DESC, pos LIMIT ?")
    return [int(r[0]) for r in col.conn.execute(sql, [*params, FEATURE_CANDIDATES])]


def sql_rank(ranker: PartsRanker, query: Understood, fused: Mapping[int, float]) -> dict:
    """Scores and reasons from SQL rows and ``Value.match`` (what the arrays replaced)."""
    values, packages = query.values, query.packages
    n = query.features
    if n == 0 or not fused:
        return {}
    col = ranker.col
    positions = list(fused)
    rows = col.rows(positions) if packages or query.categories else {}
    numeric: dict[int, list[tuple[str, str, float]]] = {}
    if values:
        units = sorted({v.unit for v in values})
        for pos, attribute, unit, value in col.conn.execute(
            f"SELECT pos, attribute, unit, value FROM {col.numeric} "
            f"WHERE pos IN ({','.join('?' * len(positions))}) "
            f"AND unit IN ({','.join('?' * len(units))})", [*positions, *units]):
            numeric.setdefault(int(pos), []).append((attribute, unit, float(value)))
    out = {}
    for pos, base in fused.items():
        matched = 0.0
        reasons: list[str] = []
        if packages:
            pkg = (rows[pos]["package"] or "") if pos in rows else ""
            if any(package_matches(p, pkg) for p in packages):
                matched += 1
                reasons.append(f"package {pkg}")
        if query.categories and pos in rows:
            sub = rows[pos]["subcategory"]
            hit = [w for w, subs in query.categories.items() if sub in subs]
            if hit:
                matched += len(hit) / len(query.categories)
                reasons.append(f"category {sub}")
        for v in values:
            weight = max((v.match(a, u, x) for a, u, x in numeric.get(pos, [])), default=0.0)
            if weight:
                matched += weight
                label = FEATURE_LABELS.get(v.unit, v.unit)
                reasons.append(f"{label} {v.text}" if weight == 1.0 else f"{label} ≥ {v.text}")
        out[pos] = Ranked((matched + FUSED_SHARE * base) / (n + FUSED_SHARE), reasons)
    return out


@pytest.fixture(scope="module")
def col(store: Path) -> Iterator[Collection]:
    snap = open_snapshot(resolve_current(store))
    try:
        yield snap.collection("parts")
    finally:
        snap.close()


def test_candidates_are_what_sql_selects(col: Collection) -> None:
    ranker = PartsRanker(col)
    asked = 0
    for text in queries():
        query = ranker.understand(text)
        for where in WHERES:
            expected = sql_candidates(ranker, query, where)
            assert ranker.candidates(query, where) == expected, (text, where)
            asked += bool(expected)
    assert asked > 50  # the fixture's 300 parts do answer many of these


def test_scores_and_reasons_are_what_sql_gives(col: Collection) -> None:
    ranker = PartsRanker(col)
    everyone = list(range(col.count))
    for text in queries():
        query = ranker.understand(text)
        fused = {p: (p * 37 % 101) / 100 for p in [*everyone[::3], *everyone[1::3]]}
        assert ranker.rank(query, fused) == sql_rank(ranker, query, fused), text


def test_stock_order_puts_null_last_and_breaks_ties_by_position(col: Collection) -> None:
    feats = PartsFeatures(col)
    feats.stock_key[[3, 5, 8]] = ~0  # stock 0
    feats.stock_null[5] = True  # and NULL
    assert feats.by_stock(np.array([], dtype=np.int64), 5) == []
    picked = feats.by_stock(np.arange(10), 10)
    assert picked[-1] == 5
    assert picked.index(3) < picked.index(8)


def test_like_and_upper_fold_ascii_only() -> None:
    assert ascii_upper("sot-23 µ ß") == "SOT-23 µ ß"  # str.upper would give "SS"
    kelvin = "\u212a"  # the Kelvin sign: str.lower gives an ASCII "k"
    assert ascii_lower(f"PIN İ {kelvin}") == f"pin İ {kelvin}"  # and "i̇" for "İ"


def _arrays(feats: PartsFeatures) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: getattr(feats, k).tobytes()
        for k in ("present", "package_code", "subcategory_code", "stock_key", "stock_null",
                  "row_attr", "row_unit", "row_value", "row_start")
    }
    out["names"] = (feats.attributes, feats.unit_names, feats.package_names,
                    feats.subcategory_names, feats.sql_order_only)
    out["units"] = {u: (r.values.tobytes(), r.pos.tobytes(), r.attr.tobytes())
                    for u, r in feats.units.items()}
    return out


@pytest.mark.parametrize("chunk", [1, 7, 300, 10**6])
def test_any_chunk_size_builds_the_same_arrays(col: Collection, chunk: int) -> None:
    """Tables read a few rows at a time, in one chunk, or across chunk boundaries agree."""
    assert _arrays(PartsFeatures(col, chunk=chunk)) == _arrays(PartsFeatures(col))


def test_features_hold_what_the_tables_hold(col: Collection) -> None:
    feats = PartsFeatures(col)
    rows = {int(p): (pkg, sub) for p, pkg, sub in col.conn.execute(
        f"SELECT pos, package, subcategory FROM {col.lookup}")}
    for p in range(col.count):
        pkg = feats.package_names[feats.package_code[p]]
        sub = feats.subcategory_names[feats.subcategory_code[p]]
        assert (pkg, sub) == rows.get(p, (None, None))
        assert bool(feats.present[p]) == (p in rows)
    numeric = sorted(
        (int(p), a, u, float(v)) for p, a, u, v in col.conn.execute(
            f"SELECT pos, attribute, unit, value FROM {col.numeric}"))
    held = sorted(
        (p, feats.attributes[int(feats.row_attr[i])], feats.unit_names[int(feats.row_unit[i])],
         float(feats.row_value[i]))
        for p in range(col.count) for i in range(feats.row_start[p], feats.row_start[p + 1]))
    assert held == numeric
