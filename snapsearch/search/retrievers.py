"""The two retrievers: dense (hnswlib, or exact over the rows a filter keeps) and lexical (FTS5
bm25). Both honour the hard filters; neither knows about record kinds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from snapsearch.format.ann import exact_topk
from snapsearch.format.reader import Collection
from snapsearch.kinds.ranking import SqlWhere

_FTS_TERM = re.compile(r"[\w.]+", re.UNICODE)
EXACT_SCAN_SHARE = 0.3  # filters keeping at most this share of rows: exact search on survivors
MAX_TERMS = 64


def fts_match_expression(text: str) -> str | None:
    """OR of the query's terms, each quoted (no FTS5 syntax from the user gets through).

    Stopwords stay: dropping Lucene's English set made lexical search faster but cost
    0.001 nDCG@10 on SciFact (0.687 -> 0.686) and 0.0035 in hybrid."""
    # dots stay inside a term ("4.7uf"), never at its ends ("resistor." is "resistor")
    terms = list(dict.fromkeys(
        t.strip(".").lower() for t in _FTS_TERM.findall(text) if t.strip(".")
    ))
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms[:MAX_TERMS])


def positions(col: Collection, where: SqlWhere, within: Sequence[int] = ()) -> np.ndarray:
    """Positions of the rows the filter keeps (only those among ``within`` when given)."""
    sql, params = where
    if within:
        sql = f"pos IN ({','.join(str(int(p)) for p in within)}) AND ({sql})"
    cur = col.conn.cursor()
    cur.row_factory = None  # plain tuples: sqlite3.Row objects cost 1 µs each, 25 ms on 25k
    rows = cur.execute(f"SELECT pos FROM {col.lookup} WHERE {sql} ORDER BY pos", params).fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1)


def dense(
    col: Collection, qvec: np.ndarray, k: int, where: SqlWhere | None
) -> list[tuple[int, float]]:
    """Top-k by cosine among the rows the filter keeps.

    Selective filter (at most ``EXACT_SCAN_SHARE`` of the rows): exact search over the
    survivors. Broad one: the ANN index with oversampling, its hits checked against the
    filter in SQL, falling back to exact search when too few survive. Either way hnswlib's
    "fewer than k" never surfaces.
    """
    if where is None:
        pos, sims = col.ann.query(qvec, k)
        return list(zip(pos.tolist(), sims.tolist(), strict=True))
    kept = int(col.conn.execute(f"SELECT count(*) FROM {col.lookup} WHERE {where[0]}",
                                where[1]).fetchone()[0])
    if kept == 0:
        return []
    if kept > EXACT_SCAN_SHARE * col.count:
        over = min(col.count, int(k * col.count / kept * 2) + k)
        pos, sims = col.ann.query(qvec, over)
        ok = set(positions(col, where, pos.tolist()).tolist())
        out = [(p, s) for p, s in zip(pos.tolist(), sims.tolist(), strict=True) if p in ok]
        if len(out) >= min(k, kept):
            return out[:k]
    pos, sims = exact_topk(col.vectors, qvec, k, rows=positions(col, where))
    return list(zip(pos.tolist(), sims.tolist(), strict=True))


def lexical(
    col: Collection, text: str, k: int, where: SqlWhere | None, also: Sequence[int] = (),
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """bm25 top-k (higher is better), and the bm25 of the ``also`` rows outside it.

    One pass over the matches either way: FTS5 scores every matching row to rank them, so
    scoring the other retriever's candidates in the same statement costs next to nothing
    (a second MATCH restricted to them cost as much as the first).
    """
    expr = fts_match_expression(text)
    if expr is None:
        return [], {}
    weights = col.bm25_weights
    fts = col.fts
    if where is None:
        sql = f"SELECT rowid AS r, -bm25({fts}, {weights}) AS s FROM {fts} WHERE {fts} MATCH ?"
        params: list[Any] = [expr]
    else:
        # CROSS JOIN keeps the matches as the outer loop: with `rowid IN (filtered rows)`
        # SQLite probed FTS5 once per surviving row (270 ms for in_stock on 25k parts, 3 ms now)
        sql = (
            f"SELECT {fts}.rowid AS r, -bm25({fts}, {weights}) AS s FROM {fts} CROSS JOIN "
            f"(SELECT pos FROM {col.lookup} WHERE {where[0]}) AS kept "
            f"ON kept.pos = {fts}.rowid "
            f"WHERE {fts} MATCH ?"
        )
        params = [*where[1], expr]
    if not also:
        rows = col.conn.execute(sql + " ORDER BY s DESC, r LIMIT ?", [*params, k])
        return [(int(r[0]), float(r[1])) for r in rows], {}
    # bm25() is only allowed in the FTS5 statement itself: materialise it, then rank
    sql = (
        f"WITH m AS MATERIALIZED ({sql}) SELECT r, s, rn FROM "
        "(SELECT r, s, row_number() OVER (ORDER BY s DESC, r) AS rn FROM m) "
        f"WHERE rn <= ? OR r IN ({','.join(str(int(p)) for p in also)}) ORDER BY rn"
    )
    top: list[tuple[int, float]] = []
    extra: dict[int, float] = {}
    for r, sc, rn in col.conn.execute(sql, [*params, k]):
        if rn <= k:
            top.append((int(r), float(sc)))
        else:
            extra[int(r)] = float(sc)
    return top, extra
