"""The search engine over one opened snapshot: vector, lexical and hybrid modes.

Used by the server, by the validate gates and by eval alike: one search path.

Scores (all in [0, 1]; docs/search.md has the full account):
- ``dense``: cosine similarity of query and record embeddings, clamped at 0.
- ``lexical``: FTS5 bm25 divided by the best bm25 among this query's lexical hits.
- ``score`` in vector mode = dense; in lexical mode = lexical; in hybrid mode the fused score
  (the manifest's fusion: convex over z-scores or min-max, or rrf), then, for parts-like
  collections, the catalogue features the query names (values, packages, category words):
  (features matched + 0.25 * fused) / (n + 0.25), so records matching more of what was asked
  rank first. Exact LCSC id / MPN matches score 1.0 and come first, MPN prefixes 0.9.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from snapsearch.format.ann import exact_topk
from snapsearch.format.manifest import FusionSettings
from snapsearch.format.model import Encoder
from snapsearch.format.reader import Collection, Snapshot
from snapsearch.kinds.parts.query import (
    RATED_UNITS,
    ParsedQuery,
    Value,
    category_words,
    is_rating,
    package_groups,
    package_matches,
    parse_query,
)

from . import fusion
from .types import Filters, Hit, SearchRequest, SearchResponse

_FTS_TERM = re.compile(r"[\w.]+", re.UNICODE)
FUSED_SHARE = 0.25  # weight of the fused score beside the features (each worth 1)
CATEGORY_SHARE = 0.3  # a word naming more of the records than this is no category intent
MAX_FEATURE_VALUES = 3  # values of a query that rank records (more are noise, not intent)
FEATURE_LABELS = {"percent": "tolerance"}
WEAK_COSINE = 0.30
EXACT_SCAN_SHARE = 0.3  # filters keeping at most this share of rows: exact search on survivors
FEATURE_CANDIDATES = 200


class UnknownCollection(KeyError):
    pass


class FilterNotSupported(ValueError):
    def __init__(self, field: str, collection: str) -> None:
        self.field = field
        super().__init__(f"filter {field!r} is not available for collection {collection!r}")


@dataclass(frozen=True)
class Features:
    values: list[Value]
    packages: list[str]
    categories: dict[str, frozenset[str]]  # query word -> subcategories it names


@dataclass
class Candidate:
    pos: int
    dense: float | None = None
    lexical_raw: float | None = None
    lexical: float = 0.0
    fused: float = 0.0
    score: float = 0.0
    exact: str | None = None
    reasons: list[str] | None = None


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
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms[:64])


class SearchEngine:
    def __init__(
        self, snapshot: Snapshot, encoder: Encoder | None, *, query_cache: int = 2048,
        fusion: FusionSettings | None = None,
    ) -> None:
        """``fusion`` overrides the manifest's settings (for measurement only; serve never does)."""
        self.snapshot = snapshot
        self.encoder = encoder
        self.fusion = fusion or snapshot.manifest.fusion
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qcache_size = query_cache
        self._qlock = threading.Lock()
        self._ratings: dict[str, dict[str, list[str]]] = {}
        self._vocab: dict[str, dict[str, frozenset[str]]] = {}

    # -- plumbing ------------------------------------------------------------------------
    def collection(self, name: str | None) -> Collection:
        try:
            return self.snapshot.collection(name)
        except KeyError:
            raise UnknownCollection(name) from None

    def embed_query(self, text: str) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError(
                "this engine has no encoder: vector and hybrid modes are unavailable"
            )
        with self._qlock:
            vec = self._qcache.pop(text, None)
            if vec is not None:
                self._qcache[text] = vec  # most recently used last
                return vec
        vec = self.encoder.encode([text])[0]
        with self._qlock:
            self._qcache[text] = vec
            while len(self._qcache) > self._qcache_size:
                self._qcache.popitem(last=False)
        return vec

    def _filter_sql(self, col: Collection, filters: Filters) -> tuple[str, list[Any]] | None:
        if filters.is_empty():
            return None
        available = col.info.filter_columns
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in filters.columns().items():
            if name not in available:
                raise FilterNotSupported(f"filters.{name}", col.name)
            clauses.append(f'"{name}" = ?')
            params.append(value)
        if filters.in_stock is not None or filters.stock_min is not None:
            if "stock" not in available:
                raise FilterNotSupported("filters.in_stock" if filters.in_stock is not None
                                         else "filters.stock_min", col.name)
            if filters.in_stock is True:
                clauses.append("stock > 0")
            elif filters.in_stock is False:
                clauses.append("stock = 0")
            if filters.stock_min is not None:
                clauses.append("stock >= ?")
                params.append(filters.stock_min)
        if filters.numeric and not self.snapshot.manifest.tables.get(col.numeric):
            raise FilterNotSupported("filters.numeric", col.name)
        for rng in filters.numeric:
            sub = f"SELECT pos FROM {col.numeric} WHERE attribute = ? AND key = ?"
            sp: list[Any] = [rng.attribute, rng.key]
            if rng.min is not None:
                sub += " AND value >= ?"
                sp.append(rng.min - abs(rng.min) * 1e-9)
            if rng.max is not None:
                sub += " AND value <= ?"
                sp.append(rng.max + abs(rng.max) * 1e-9)
            clauses.append(f"pos IN ({sub})")
            params.extend(sp)
        return " AND ".join(clauses), params

    def _positions(
        self, col: Collection, where: tuple[str, list[Any]], within: Sequence[int] = ()
    ) -> np.ndarray:
        """Positions of the rows the filter keeps (only those among ``within`` when given)."""
        sql, params = where
        if within:
            sql = f"pos IN ({','.join(str(int(p)) for p in within)}) AND ({sql})"
        cur = col.conn.cursor()
        cur.row_factory = None  # plain tuples: sqlite3.Row objects cost 1 µs each, 25 ms on 25k
        rows = cur.execute(
            f"SELECT pos FROM {col.lookup} WHERE {sql} ORDER BY pos", params
        ).fetchall()
        return np.array(rows, dtype=np.int64).reshape(-1)

    # -- retrievers ----------------------------------------------------------------------
    def dense(
        self, col: Collection, qvec: np.ndarray, k: int, where: tuple[str, list[Any]] | None
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
            ok = set(self._positions(col, where, pos.tolist()).tolist())
            out = [(p, s) for p, s in zip(pos.tolist(), sims.tolist(), strict=True) if p in ok]
            if len(out) >= min(k, kept):
                return out[:k]
        pos, sims = exact_topk(col.vectors, qvec, k, rows=self._positions(col, where))
        return list(zip(pos.tolist(), sims.tolist(), strict=True))

    def lexical(
        self, col: Collection, text: str, k: int, where: tuple[str, list[Any]] | None,
        also: Sequence[int] = (),
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

    # -- query understanding -------------------------------------------------------------
    def _exact_matches(
        self, col: Collection, parsed: ParsedQuery, where: tuple[str, list[Any]] | None
    ) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        extra, params = ("", []) if where is None else (f" AND {where[0]}", where[1])
        for rid in parsed.lcsc_ids:
            r = col.conn.execute(
                f"SELECT pos FROM {col.lookup} WHERE id = ?{extra}", [rid, *params]
            ).fetchone()
            if r is not None:
                out.append((int(r[0]), f"exact id {rid}"))
        if "mpn" in col.info.filter_columns:
            for mpn in parsed.mpn_candidates:
                rows = col.conn.execute(
                    f"SELECT pos FROM {col.lookup} WHERE mpn = ?{extra} ORDER BY pos LIMIT 20",
                    [mpn, *params],
                ).fetchall()
                out.extend((int(r[0]), f"exact mpn {mpn}") for r in rows)
                if not rows and len(mpn) >= 5:
                    rows = col.conn.execute(
                        f"SELECT pos FROM {col.lookup} WHERE mpn >= ? AND mpn < ?{extra} "
                        "ORDER BY stock DESC, pos LIMIT 20",
                        [mpn, mpn + "\uffff", *params],
                    ).fetchall()
                    out.extend((int(r[0]), f"mpn prefix {mpn}") for r in rows)
        seen: set[int] = set()
        return [(p, why) for p, why in out if not (p in seen or seen.add(p))]

    def _features(self, col: Collection, parsed: ParsedQuery) -> Features:
        """What the query names that this collection can match (parts-like kinds only)."""
        if "package" not in col.info.filter_columns:
            return Features([], [], {})
        vocab = self._category_vocabulary(col)
        words: list[str] = []
        q = parsed.words
        i = 0
        while i < len(q):
            if i + 1 < len(q) and q[i] + q[i + 1] in vocab:  # "op amp" is "OpAmps"
                words.append(q[i] + q[i + 1])
                i += 2
                continue
            if q[i] in vocab:
                words.append(q[i])
            i += 1
        return Features(parsed.values[:MAX_FEATURE_VALUES], parsed.packages,
                        {w: vocab[w] for w in words})

    def _category_vocabulary(self, col: Collection) -> dict[str, frozenset[str]]:
        """word -> the subcategories whose category or subcategory name holds it (a word, or two
        adjacent words run together), for words naming at most ``CATEGORY_SHARE`` of the
        records ("electrolytic", "crystal", "zener"; not "smd"). Computed once per collection
        from the data itself."""
        found = self._vocab.get(col.name)
        if found is None:
            named: dict[str, set[str]] = {}
            records: dict[str, int] = {}
            for category, subcategory, n in col.conn.execute(
                f"SELECT category, subcategory, count(*) FROM {col.lookup} GROUP BY 1, 2"
            ):
                name = category_words(f"{category} {subcategory}")
                # each word, and each pair run together: "Op Amps" also names "opamp"
                for w in set(name) | {a + b for a, b in zip(name, name[1:], strict=False)}:
                    named.setdefault(w, set()).add(subcategory)
                    records[w] = records.get(w, 0) + int(n)
            found = {w: frozenset(subs) for w, subs in named.items()
                     if records[w] <= CATEGORY_SHARE * max(col.count, 1)}
            self._vocab[col.name] = found
        return found

    def _rating_attributes(self, col: Collection) -> dict[str, list[str]]:
        """unit -> the collection's attributes that state a rating (computed once per
        collection)."""
        found = self._ratings.get(col.name)
        if found is None:
            found = {}
            for attribute, unit in col.conn.execute(
                f"SELECT DISTINCT attribute, unit FROM {col.numeric} WHERE unit IN "
                f"({','.join('?' * len(RATED_UNITS))}) ORDER BY attribute", sorted(RATED_UNITS)
            ):
                if is_rating(attribute):
                    found.setdefault(unit, []).append(attribute)
            self._ratings[col.name] = found
        return found

    def _feature_candidates(
        self, col: Collection, f: Features, where: tuple[str, list[Any]] | None
    ) -> list[int]:
        """Records that match every value of the query (and, coarsely, its package): recall for
        parametric needs that neither retriever ranks high. Only when the query names a value."""
        values, packages = f.values, f.packages
        if not values:
            return []
        ratings = self._rating_attributes(col)
        clauses: list[str] = []
        params: list[Any] = []
        for v in values:
            lo, hi = v.bounds
            cond, cp = "value BETWEEN ? AND ?", [lo, hi]
            rated = ratings.get(v.unit, []) if v.at_least else []
            if rated:
                cond = f"({cond} OR (value >= ? AND attribute IN ({','.join('?' * len(rated))})))"
                cp += [lo, *rated]
            if v.only:  # e.g. "pin|contact|position": the attribute's name holds one of them
                names = v.only.split("|")
                cond += " AND (" + " OR ".join("attribute LIKE ?" for _ in names) + ")"
                cp += [f"%{w}%" for w in names]
            clauses.append(f"pos IN (SELECT pos FROM {col.numeric} WHERE unit = ? AND {cond})")
            params += [v.unit, *cp]
        if packages:  # coarse here (every group of the name appears); exact in _score_features
            ors = []
            for pkg in packages:
                groups = package_groups(pkg)
                ors.append("(" + " AND ".join("upper(package) LIKE ?" for _ in groups) + ")")
                params += [f"%{g}%" for g in groups]
            clauses.append("(" + " OR ".join(ors) + ")")
        if where is not None:
            clauses.append(where[0])
            params.extend(where[1])
        sql = (
            f"SELECT pos FROM {col.lookup} WHERE {' AND '.join(clauses)} "
            "ORDER BY stock DESC, pos LIMIT ?"
        )
        return [int(r[0]) for r in col.conn.execute(sql, [*params, FEATURE_CANDIDATES])]

    def _score_features(self, col: Collection, f: Features, cands: dict[int, Candidate]) -> int:
        """Rank by the query's features first:
        score = (features matched + FUSED_SHARE * fused) / (n + FUSED_SHARE).

        A record matching k of the n features scores in [k, k + FUSED_SHARE] / (n + FUSED_SHARE):
        a record matching more of what the query names ranks above one matching less, and the
        fused score orders records within a tier. A rating met by a higher value counts half
        (``RATING_MATCH``); category words count the share of them the record's subcategory
        holds. Returns n (0: scores stay the fused ones).
        """
        values, packages = f.values, f.packages
        n = len(values) + (1 if packages else 0) + (1 if f.categories else 0)
        if n == 0 or not cands:
            return 0
        positions = list(cands)
        rows = col.rows(positions) if packages or f.categories else {}
        numeric: dict[int, list[tuple[str, str, float]]] = {}
        if values:
            units = sorted({v.unit for v in values})
            for pos, attribute, unit, value in col.conn.execute(
                f"SELECT pos, attribute, unit, value FROM {col.numeric} "
                f"WHERE pos IN ({','.join('?' * len(positions))}) "
                f"AND unit IN ({','.join('?' * len(units))})",
                [*positions, *units],
            ):
                numeric.setdefault(int(pos), []).append((attribute, unit, float(value)))
        for pos, c in cands.items():
            matched = 0.0
            reasons = c.reasons if c.reasons is not None else []
            if packages:
                pkg = (rows[pos]["package"] or "") if pos in rows else ""
                if any(package_matches(p, pkg) for p in packages):
                    matched += 1
                    reasons.append(f"package {pkg}")
            if f.categories and pos in rows:
                sub = rows[pos]["subcategory"]
                hit = [w for w, subs in f.categories.items() if sub in subs]
                if hit:
                    matched += len(hit) / len(f.categories)
                    reasons.append(f"category {sub}")
            for v in values:
                weight = max((v.match(a, u, x) for a, u, x in numeric.get(pos, [])), default=0.0)
                if weight:
                    matched += weight
                    label = FEATURE_LABELS.get(v.unit, v.unit)
                    reasons.append(f"{label} {v.text}" if weight == 1.0 else f"{label} ≥ {v.text}")
            c.reasons = reasons
            c.score = (matched + FUSED_SHARE * c.fused) / (n + FUSED_SHARE)
        return n

    # -- the one entry point -------------------------------------------------------------
    def search(self, req: SearchRequest) -> SearchResponse:
        t0 = time.perf_counter()
        col = self.collection(req.collection)
        where = self._filter_sql(col, req.filters)
        fcfg = self.fusion
        # one fixed pool per query, whatever the page: every page cuts the same ranking
        pool = fcfg.candidates
        cands: dict[int, Candidate] = {}
        best_cos = 0.0
        lex_hits = 0
        qvec = None
        if req.mode in ("vector", "hybrid"):
            qvec = self.embed_query(req.query)
            for p, s in self.dense(col, qvec, pool, where):
                cands[p] = Candidate(p, dense=max(0.0, s))
        parsed = parse_query(req.query) if req.mode == "hybrid" else None
        features = self._features(col, parsed) if parsed is not None else None
        exact: list[tuple[int, str]] = []
        if parsed is not None and features is not None:
            exact = self._exact_matches(col, parsed, where)
            for p, why in exact:
                cands.setdefault(p, Candidate(p)).exact = why
            for p in self._feature_candidates(col, features, where):
                cands.setdefault(p, Candidate(p))
        if req.mode in ("lexical", "hybrid"):
            # hybrid scores every candidate on both retrievers: bm25 for the others' ones too
            lex, extra = self.lexical(col, req.query, pool, where, also=list(cands))
            lex_hits = len(lex)
            top = lex[0][1] if lex else 1.0
            for p, s in [*lex, *extra.items()]:
                c = cands.setdefault(p, Candidate(p))
                c.lexical_raw = s
                c.lexical = min(1.0, s / top) if top > 0 else 0.0
        if qvec is not None:
            missing = [p for p, c in cands.items() if c.dense is None]
            if missing:
                sims = col.vectors[np.asarray(missing)] @ qvec
                for p, s in zip(missing, sims.tolist(), strict=True):
                    cands[p].dense = max(0.0, float(s))
            best_cos = max((c.dense or 0.0 for c in cands.values()), default=0.0)

        if req.mode == "vector":
            for c in cands.values():
                c.fused = c.score = c.dense or 0.0
        elif req.mode == "lexical":
            for c in cands.values():
                c.fused = c.score = c.lexical
        else:
            dense = {p: c.dense or 0.0 for p, c in cands.items()}
            lexical = {p: c.lexical_raw for p, c in cands.items() if c.lexical_raw is not None}
            if fcfg.method == "rrf":
                d_rank = sorted(dense, key=lambda p: (-dense[p], p))[: fcfg.candidates]
                l_rank = sorted(lexical, key=lambda p: (-lexical[p], p))
                fused = fusion.rrf(d_rank, l_rank, fcfg.rrf_k)
            else:
                fused = fusion.convex(dense, lexical, fcfg.alpha, fcfg.normalization)
            for p, c in cands.items():
                c.fused = c.score = fused.get(p, 0.0)
            assert features is not None
            self._score_features(col, features, cands)
            for c in cands.values():
                if c.exact and c.exact.startswith("exact"):
                    c.score = 1.0
                elif c.exact:
                    c.score = max(c.score, 0.9)

        def tier(c: Candidate) -> int:
            return 2 if c.exact is None else (0 if c.exact.startswith("exact") else 1)

        ranked = sorted(cands.values(), key=lambda c: (tier(c), -c.score, c.pos))
        ranked = [c for c in ranked if c.score >= req.min_score or c.exact]
        page = ranked[req.offset : req.offset + req.limit]
        rows = col.rows([c.pos for c in page])
        hits = []
        for c in page:
            row = rows[c.pos]
            reasons = list(c.reasons or [])
            if c.exact:
                reasons.insert(0, c.exact)
            if c.dense is not None and req.mode != "lexical":
                reasons.append(f"semantic {c.dense:.2f}")
            if c.lexical_raw is not None:
                reasons.append(f"terms {c.lexical:.2f}")
            scores = {}
            if req.mode != "lexical":
                scores["dense"] = round(float(min(1.0, c.dense or 0.0)), 6)
            if req.mode != "vector":
                scores["lexical"] = round(float(c.lexical), 6)
            hits.append(
                Hit(
                    id=row["id"],
                    score=round(float(min(1.0, max(0.0, c.score))), 6),
                    scores=scores,
                    reasons=reasons,
                    record=json.loads(row["summary"]),
                )
            )
        if not ranked:
            match = "none"
        elif req.mode == "lexical":
            match = "good"
        elif exact or lex_hits or best_cos >= WEAK_COSINE:
            match = "good" if (exact or best_cos >= WEAK_COSINE or req.mode == "hybrid") else "weak"
        else:
            match = "weak"
        return SearchResponse(
            query=req.query, mode=req.mode, collection=col.name,
            snapshot_id=self.snapshot.snapshot_id, total_candidates=len(ranked), match=match,
            hits=hits, offset=req.offset, limit=req.limit,
            took_ms=round((time.perf_counter() - t0) * 1000, 3),
        )

    def get_record(self, record_id: str, collection: str | None = None) -> dict[str, Any] | None:
        return self.collection(collection).detail(record_id)
