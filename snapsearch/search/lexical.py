"""Lexical retrieval: FTS5 bm25, phrase by phrase, each phrase's scores kept for later queries.

FTS5 scores an OR of phrases as the sum, in phrase order, of each phrase's own bm25 term: idf,
column weights and document length are per phrase, and a phrase a row lacks adds exactly 0.0.
So the bm25 of ``"a" OR "b" OR "c"`` is, bit for bit, the single-phrase bm25 of "a", plus that of
"b", plus that of "c", added in that order (tests/snapsearch/search/test_lexical.py checks it
against FTS5 itself). A phrase is scored by FTS5 the first time a query holds it and read from
memory after that: the common words of a catalogue ("resistor", the "1" of "1%") are in most
queries, and scoring their thousands of rows again was most of a hybrid query's time.

The cache is bounded by the rows it holds (``CACHE_ROWS``, about 12 bytes each); the least
recently used phrases go first.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from snapsearch.format.reader import Collection

_FTS_TERM = re.compile(r"[\w.]+", re.UNICODE)
MAX_TERMS = 64
CACHE_ROWS = 1_000_000


def fts_terms(text: str) -> list[str]:
    """The query's distinct terms, lower-case, in order (at most ``MAX_TERMS``)."""
    # dots stay inside a term ("4.7uf"), never at its ends ("resistor." is "resistor")
    terms = list(dict.fromkeys(
        t.strip(".").lower() for t in _FTS_TERM.findall(text) if t.strip(".")
    ))
    return [t.replace('"', "") for t in terms[:MAX_TERMS]]


def fts_match_expression(text: str) -> str | None:
    """OR of the query's terms, each quoted (no FTS5 syntax from the user gets through).

    Stopwords stay: dropping Lucene's English set made lexical search faster but cost
    0.001 nDCG@10 on SciFact (0.687 -> 0.686) and 0.0035 in hybrid."""
    terms = fts_terms(text)
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in terms)


Scored = tuple[np.ndarray, np.ndarray]  # rows (int64, ascending), bm25 scores (float64)


class Lexical:
    """bm25 retrieval over one collection's FTS5 table."""

    def __init__(self, col: Collection, cache_rows: int = CACHE_ROWS) -> None:
        self.col = col
        self.cache_rows = cache_rows
        self._cache: OrderedDict[str, Scored] = OrderedDict()
        self._cached_rows = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def phrase(self, term: str) -> Scored:
        """Every row holding ``term`` (one FTS5 phrase) and its bm25 for that phrase alone."""
        with self._lock:
            found = self._cache.get(term)
            if found is not None:
                self._cache.move_to_end(term)
                self.hits += 1
                return found
            self.misses += 1
        col, fts = self.col, self.col.fts
        cur = col.conn.cursor()
        cur.row_factory = None
        rows = cur.execute(
            f"SELECT rowid, -bm25({fts}, {col.bm25_weights}) FROM {fts} WHERE {fts} MATCH ? "
            "ORDER BY rowid", [f'"{term}"'],
        ).fetchall()
        scored = (np.array([r[0] for r in rows], dtype=np.int64),
                  np.array([r[1] for r in rows], dtype=np.float64))
        size = len(rows)
        if size <= self.cache_rows:
            with self._lock:
                if term not in self._cache:
                    self._cache[term] = scored
                    self._cached_rows += size
                while self._cached_rows > self.cache_rows:
                    _, (old, _) = self._cache.popitem(last=False)
                    self._cached_rows -= len(old)
        return scored

    def scores(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(whether each row matches, its bm25) over every row; None without terms."""
        terms = fts_terms(text)
        if not terms:
            return None
        n = self.col.count
        total = np.zeros(n, dtype=np.float64)
        hit = np.zeros(n, dtype=bool)
        for term in terms:  # the phrase order of the OR: the same sum as FTS5's
            rows, sc = self.phrase(term)
            if len(rows) and rows[-1] >= len(total):  # rowids beyond the vectors: grow
                grow = int(rows[-1]) + 1 - len(total)
                total = np.concatenate([total, np.zeros(grow)])
                hit = np.concatenate([hit, np.zeros(grow, dtype=bool)])
            total[rows] += sc
            hit[rows] = True
        return hit, total

    def search(
        self, text: str, k: int, kept: np.ndarray | None = None, also: Sequence[int] = (),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """bm25 top-k (score descending, then row), and the bm25 of the ``also`` rows outside
        it; only rows ``kept`` marks (the hard filters) when given."""
        scored = self.scores(text)
        if scored is None:
            return [], {}
        hit, total = scored
        if kept is not None:
            hit[: len(kept)] &= kept
            hit[len(kept):] = False
        rows = np.flatnonzero(hit)
        sc = total[rows]
        if len(rows) > k > 0:
            kth = np.partition(sc, len(sc) - k)[len(sc) - k]  # the k-th highest score
            keep = sc >= kth
            rows, sc = rows[keep], sc[keep]
        order = np.lexsort((rows, -sc))[: max(k, 0)]
        top = [(int(r), float(s)) for r, s in zip(rows[order], sc[order], strict=True)]
        if not also:
            return top, {}
        in_top = {r for r, _ in top}
        extra_rows = [p for p in dict.fromkeys(int(p) for p in also)
                      if p not in in_top and p < len(hit) and hit[p]]
        extra_rows.sort(key=lambda p: (-total[p], p))
        return top, {p: float(total[p]) for p in extra_rows}
