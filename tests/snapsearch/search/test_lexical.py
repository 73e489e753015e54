"""Lexical retrieval phrase by phrase gives, bit for bit, what FTS5's bm25 of the whole OR query
gives (the reference below is the one-statement SQL it replaced), whatever the cache holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from snapsearch.format.links import resolve_current
from snapsearch.format.reader import Collection, open_snapshot
from snapsearch.kinds.ranking import SqlWhere
from snapsearch.search.lexical import Lexical, fts_match_expression
from snapsearch.search.retrievers import FilterMasks

QUERIES = [
    "10k 0402 resistor 1%", "resistor resistors", "capacitor 100nF 0603 X7R 50V", "C25744",
    "usb to uart bridge chip", "led", "3.3v ldo sot-23-5", "a_b", "µF", "the of and",
    "RC0402FR-0710KL", "zzzz nothing matches", "1 2 3 4 5 6 7 8 9 10", "smd; crystal: 12mhz!",
]
WHERES: list[SqlWhere | None] = [
    None, ("stock > 0", []), ("package = ?", ["0402"]), ("library_type = ?", ["Basic"]),
    ("stock > ?", [10**12]),
]


def reference(
    col: Collection, text: str, k: int, where: SqlWhere | None, also: Sequence[int] = (),
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """The lexical retriever as one FTS5 statement (what ``Lexical`` replaced)."""
    expr = fts_match_expression(text)
    if expr is None:
        return [], {}
    fts, weights = col.fts, col.bm25_weights
    if where is None:
        sql = f"SELECT rowid AS r, -bm25({fts}, {weights}) AS s FROM {fts} WHERE {fts} MATCH ?"
        params: list[Any] = [expr]
    else:
        sql = (
            f"SELECT {fts}.rowid AS r, -bm25({fts}, {weights}) AS s FROM {fts} CROSS JOIN "
            f"(SELECT pos FROM {col.lookup} WHERE {where[0]}) AS kept "
            f"ON kept.pos = {fts}.rowid WHERE {fts} MATCH ?"
        )
        params = [*where[1], expr]
    if not also:
        rows = col.conn.execute(sql + " ORDER BY s DESC, r LIMIT ?", [*params, k])
        return [(int(r[0]), float(r[1])) for r in rows], {}
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


@pytest.fixture(scope="module")
def col(store: Path) -> Iterator[Collection]:
    snap = open_snapshot(resolve_current(store))
    try:
        yield snap.collection("parts")
    finally:
        snap.close()


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("where", WHERES)
def test_bit_for_bit_what_fts5_scores(col: Collection, query: str, where: SqlWhere | None) -> None:
    lexical = Lexical(col)
    kept = None if where is None else FilterMasks(col).mask(where)
    also = list(range(0, col.count, 7))
    for k in (1, 5, 100, 100):  # phrases scored by FTS5, then read from the cache
        assert lexical.search(query, k, kept) == reference(col, query, k, where)
        assert lexical.search(query, k, kept, also) == reference(col, query, k, where, also)


def test_ties_break_by_row_as_in_sql(col: Collection) -> None:
    lexical = Lexical(col)
    hit, total = lexical.scores("resistor") or (None, None)
    assert hit is not None and total is not None
    scores = total[hit]
    assert len(np.unique(scores)) < len(scores)  # the fixture does hold ties
    for k in (1, 2, 3, 10, int(hit.sum())):
        assert lexical.search("resistor", k) == reference(col, "resistor", k, None)


def test_the_cache_is_bounded_by_rows_and_still_exact(col: Collection) -> None:
    lexical = Lexical(col, cache_rows=40)
    for query in QUERIES:
        assert lexical.search(query, 10) == reference(col, query, 10, None)
        assert lexical._cached_rows <= 40
    assert lexical.misses > 0
    before = lexical.hits
    lexical.search("a_b", 10)  # a phrase no row holds: cached, 0 rows
    lexical.search("a_b", 10)
    assert lexical.hits > before


def test_filter_masks_are_the_rows_sql_keeps(col: Collection) -> None:
    masks = FilterMasks(col, size=2)
    for where in WHERES[1:]:
        assert where is not None
        sql_rows = [r[0] for r in col.conn.execute(
            f"SELECT pos FROM {col.lookup} WHERE {where[0]} ORDER BY pos", where[1])]
        mask = masks.mask(where)
        assert np.flatnonzero(mask).tolist() == sql_rows
        assert masks.mask(where) is mask  # kept for the next query with the same filter
        assert not mask.flags.writeable
    assert len(masks._masks) == 2
