"""What the parts kind adds to hybrid ranking: exact ids and part numbers, and the catalogue
features a query names (values, packages, category words), which rank first.

- An LCSC id ("C25744") or a whole manufacturer part number names its records exactly (score
  1.0, first); an MPN prefix of 5+ characters names the parts it starts (0.9, right after).
- Values ("10k", "25V", "1%", "16P", "2x5"), packages ("0402", "SOT-23-5") and category words
  ("electrolytic", "op amp") are soft features: score = (features matched + FUSED_SHARE * fused) /
  (n + FUSED_SHARE), so a record matching more of what was asked ranks above one matching less
  and the fused score orders records within a tier. A rating met by a higher value counts half
  (``RATING_MATCH``); category words count the share of them the record's subcategory holds.
- Records matching every value of the query (and, coarsely, its package) join the candidates:
  recall for parametric needs that neither retriever ranks high.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from snapsearch.format.reader import Collection
from snapsearch.kinds.parts.features import PartsFeatures
from snapsearch.kinds.parts.grammar import (
    RATED_UNITS,
    Value,
    category_words,
    is_rating,
    package_groups,
    package_matches,
)
from snapsearch.kinds.parts.query import ParsedQuery, parse_query
from snapsearch.kinds.ranking import Exact, Ranked, Ranker, SqlWhere

FUSED_SHARE = 0.25  # weight of the fused score beside the features (each worth 1)
CATEGORY_SHARE = 0.3  # a word naming more of the records than this is no category intent
MAX_FEATURE_VALUES = 3  # values of a query that rank records (more are noise, not intent)
FEATURE_LABELS = {"percent": "tolerance"}
FEATURE_CANDIDATES = 200
EXACT_LIMIT = 20  # records one id or part number may name
WITHIN_LIST_MAX = 5000  # feature candidates checked against the hard filters by listing them


@dataclass(frozen=True)
class Understood:
    """One query as the parts kind reads it."""

    parsed: ParsedQuery
    values: list[Value]
    packages: list[str]
    categories: dict[str, frozenset[str]]  # query word -> subcategories it names

    @property
    def features(self) -> int:
        return len(self.values) + (1 if self.packages else 0) + (1 if self.categories else 0)


def _and(where: SqlWhere | None) -> tuple[str, list[Any]]:
    return ("", []) if where is None else (f" AND ({where[0]})", list(where[1]))


class PartsRanker(Ranker):
    def __init__(self, collection: Collection) -> None:
        self.col = collection
        self._vocab: dict[str, frozenset[str]] | None = None
        self._ratings: dict[str, list[str]] | None = None
        self._features: PartsFeatures | None = None
        self._features_lock = threading.Lock()

    # -- reading the query ---------------------------------------------------------------------
    def understand(self, text: str) -> Understood:
        parsed = parse_query(text)
        vocab = self.category_vocabulary()
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
        return Understood(parsed, parsed.values[:MAX_FEATURE_VALUES], parsed.packages,
                          {w: vocab[w] for w in words})

    def category_vocabulary(self) -> dict[str, frozenset[str]]:
        """word -> the subcategories whose category or subcategory name holds it (a word, or two
        adjacent words run together), for words naming at most ``CATEGORY_SHARE`` of the
        records ("electrolytic", "crystal", "zener"; not "smd"). Computed once, from the data."""
        if self._vocab is None:
            col = self.col
            named: dict[str, set[str]] = {}
            records: dict[str, int] = {}
            for category, subcategory, n in col.conn.execute(
                # NOT INDEXED: one scan and a sort beat a walk of the category index with a
                # table lookup per record (15 ms against 25-45 ms on 25k parts)
                f"SELECT category, subcategory, count(*) FROM {col.lookup} NOT INDEXED "
                "GROUP BY 1, 2"
            ):
                name = category_words(f"{category} {subcategory}")
                # each word, and each pair run together: "Op Amps" also names "opamp"
                for w in set(name) | {a + b for a, b in zip(name, name[1:], strict=False)}:
                    named.setdefault(w, set()).add(subcategory)
                    records[w] = records.get(w, 0) + int(n)
            self._vocab = {w: frozenset(subs) for w, subs in named.items()
                           if records[w] <= CATEGORY_SHARE * max(col.count, 1)}
        return self._vocab

    def rating_attributes(self) -> dict[str, list[str]]:
        """unit -> the collection's attributes that state a rating, in SQL's ``ORDER BY
        attribute`` (code point order); computed once, from the features in memory (what
        ``SELECT DISTINCT attribute, unit FROM numeric WHERE unit IN RATED_UNITS`` gives, without
        another scan of the numeric table)."""
        if self._ratings is None:
            feats = self.features()
            found: dict[str, list[str]] = {}
            for unit in sorted(RATED_UNITS):
                rows = feats.units.get(unit)
                if rows is None:
                    continue
                named = sorted(feats.attributes[a] for a in np.unique(rows.attr).tolist())
                rated = [a for a in named if is_rating(a)]
                if rated:
                    found[unit] = rated
            self._ratings = found
        return self._ratings

    # -- the engine's three questions ----------------------------------------------------------
    def exact(self, query: Understood, where: SqlWhere | None) -> list[Exact]:
        col, parsed = self.col, query.parsed
        extra, params = _and(where)
        out: list[Exact] = []
        for rid in parsed.lcsc_ids:
            r = col.conn.execute(
                f"SELECT pos FROM {col.lookup} WHERE id = ?{extra}", [rid, *params]
            ).fetchone()
            if r is not None:
                out.append(Exact(int(r[0]), f"exact id {rid}"))
        for mpn in parsed.mpn_candidates:
            rows = col.conn.execute(
                f"SELECT pos FROM {col.lookup} WHERE mpn = ?{extra} ORDER BY pos LIMIT ?",
                [mpn, *params, EXACT_LIMIT],
            ).fetchall()
            out.extend(Exact(int(r[0]), f"exact mpn {mpn}") for r in rows)
            if not rows and len(mpn) >= 5:
                rows = col.conn.execute(
                    f"SELECT pos FROM {col.lookup} WHERE mpn >= ? AND mpn < ?{extra} "
                    "ORDER BY stock DESC, pos LIMIT ?",
                    [mpn, mpn + "\uffff", *params, EXACT_LIMIT],
                ).fetchall()
                out.extend(Exact(int(r[0]), f"mpn prefix {mpn}", full=False) for r in rows)
        first = {e.pos: e for e in reversed(out)}  # the first Exact naming each record wins
        return [e for e in out if first[e.pos] is e]

    def candidates(self, query: Understood, where: SqlWhere | None) -> list[int]:
        """Records that match every value of the query (and, coarsely, its package): recall for
        parametric needs that neither retriever ranks high. Only when the query names a value.

        Answered from the collection's features in memory (``features.py``); the SQL it stands
        for: ``SELECT pos FROM lookup WHERE <each value: pos IN (numeric rows of its unit in its
        bounds)> AND <any package: upper(package) LIKE every group> AND <where> ORDER BY stock
        DESC, pos LIMIT FEATURE_CANDIDATES``."""
        values, packages = query.values, query.packages
        if not values:
            return []
        feats = self.features()
        ratings = self.rating_attributes()
        kept: np.ndarray | None = None
        for v in values:
            lo, hi = v.bounds
            rated = ratings.get(v.unit, []) if v.at_least else []
            found = feats.value_rows(
                v.unit, lo, hi,
                at_least_attrs=feats.attributes_in(rated) if rated else None,
                attr_ok=feats.attributes_like(v.only.split("|")) if v.only else None,
            )
            mask = np.zeros(feats.count, dtype=bool)
            mask[found] = True
            kept = mask if kept is None else kept & mask
        assert kept is not None
        kept &= feats.present
        if packages:  # coarse here (every group of the name appears); exact in rank()
            any_package = np.zeros(feats.count, dtype=bool)
            for pkg in packages:
                any_package |= feats.packages_like(package_groups(pkg))
            kept &= any_package
        found = np.flatnonzero(kept)
        if where is not None and len(found):
            found = self._within(found, where)
        if feats.sql_order_only and len(found):
            return self._by_stock_sql(found)
        return feats.by_stock(found, FEATURE_CANDIDATES)

    def _within(self, positions: np.ndarray, where: SqlWhere) -> np.ndarray:
        """The ``positions`` the hard filters keep."""
        col = self.col
        sql, params = where
        cur = col.conn.cursor()
        cur.row_factory = None
        if len(positions) <= WITHIN_LIST_MAX:
            listed = ",".join(str(int(p)) for p in positions)
            q = f"SELECT pos FROM {col.lookup} WHERE pos IN ({listed}) AND ({sql})"
            return np.array([r[0] for r in cur.execute(q, params)], dtype=np.int64)
        kept = np.array([r[0] for r in cur.execute(
            f"SELECT pos FROM {col.lookup} WHERE {sql}", params)], dtype=np.int64)
        return np.intersect1d(positions, kept)

    def _by_stock_sql(self, positions: np.ndarray) -> list[int]:
        col = self.col
        listed = ",".join(str(int(p)) for p in positions)
        return [int(r[0]) for r in col.conn.execute(
            f"SELECT pos FROM {col.lookup} WHERE pos IN ({listed}) "
            "ORDER BY stock DESC, pos LIMIT ?", [FEATURE_CANDIDATES])]

    def features(self) -> PartsFeatures:
        """The collection's features in memory (read on the first call: the warm-up query)."""
        if self._features is None:
            with self._features_lock:
                if self._features is None:
                    self._features = PartsFeatures(self.col)
        return self._features

    def rank(self, query: Understood, fused: Mapping[int, float]) -> dict[int, Ranked]:
        """score = (features matched + FUSED_SHARE * fused) / (n + FUSED_SHARE); {} without
        features (the fused scores stand)."""
        values, packages = query.values, query.packages
        n = query.features
        if n == 0 or not fused:
            return {}
        feats = self.features()
        positions = list(fused)
        weights = [feats.value_weights(v, positions).tolist() for v in values]
        labels = [FEATURE_LABELS.get(v.unit, v.unit) for v in values]
        package_ok: dict[str, bool] = {}
        category_hit: dict[str | None, list[str]] = {}
        present = feats.present_list
        package_names, subcategory_names = feats.package_names, feats.subcategory_names
        package_code: list[int] = (
            feats.package_code[positions].tolist() if packages else [])
        subcategory_code: list[int] = (
            feats.subcategory_code[positions].tolist() if query.categories else [])
        denominator = n + FUSED_SHARE
        out: dict[int, Ranked] = {}
        for i, (pos, base) in enumerate(fused.items()):
            matched = 0.0
            reasons: list[str] = []
            if packages:
                pkg = (package_names[package_code[i]] or "") if present[pos] else ""
                ok = package_ok.get(pkg)
                if ok is None:
                    ok = package_ok[pkg] = any(package_matches(p, pkg) for p in packages)
                if ok:
                    matched += 1
                    reasons.append(f"package {pkg}")
            if query.categories and present[pos]:
                sub = subcategory_names[subcategory_code[i]]
                hit = category_hit.get(sub)
                if hit is None:
                    hit = category_hit[sub] = [
                        w for w, subs in query.categories.items() if sub in subs
                    ]
                if hit:
                    matched += len(hit) / len(query.categories)
                    reasons.append(f"category {sub}")
            for v, w, label in zip(values, weights, labels, strict=True):
                weight = w[i]
                if weight:
                    matched += weight
                    reasons.append(f"{label} {v.text}" if weight == 1.0 else f"{label} ≥ {v.text}")
            out[pos] = Ranked((matched + FUSED_SHARE * base) / denominator, reasons)
        return out
