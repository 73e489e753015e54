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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snapsearch.format.reader import Collection
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
                f"SELECT category, subcategory, count(*) FROM {col.lookup} GROUP BY 1, 2"
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
        """unit -> the collection's attributes that state a rating (computed once)."""
        if self._ratings is None:
            found: dict[str, list[str]] = {}
            for attribute, unit in self.col.conn.execute(
                f"SELECT DISTINCT attribute, unit FROM {self.col.numeric} WHERE unit IN "
                f"({','.join('?' * len(RATED_UNITS))}) ORDER BY attribute", sorted(RATED_UNITS)
            ):
                if is_rating(attribute):
                    found.setdefault(unit, []).append(attribute)
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
        parametric needs that neither retriever ranks high. Only when the query names a value."""
        values, packages = query.values, query.packages
        if not values:
            return []
        col = self.col
        ratings = self.rating_attributes()
        clauses: list[str] = []
        params: list[Any] = []
        for v in values:
            lo, hi = v.bounds
            cond, cp = "value BETWEEN ? AND ?", list[Any]([lo, hi])
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
        if packages:  # coarse here (every group of the name appears); exact in rank()
            ors = []
            for pkg in packages:
                groups = package_groups(pkg)
                ors.append("(" + " AND ".join("upper(package) LIKE ?" for _ in groups) + ")")
                params += [f"%{g}%" for g in groups]
            clauses.append("(" + " OR ".join(ors) + ")")
        if where is not None:
            clauses.append(f"({where[0]})")
            params.extend(where[1])
        sql = (
            f"SELECT pos FROM {col.lookup} WHERE {' AND '.join(clauses)} "
            "ORDER BY stock DESC, pos LIMIT ?"
        )
        return [int(r[0]) for r in col.conn.execute(sql, [*params, FEATURE_CANDIDATES])]

    def rank(self, query: Understood, fused: Mapping[int, float]) -> dict[int, Ranked]:
        """score = (features matched + FUSED_SHARE * fused) / (n + FUSED_SHARE); {} without
        features (the fused scores stand)."""
        values, packages = query.values, query.packages
        n = query.features
        if n == 0 or not fused:
            return {}
        col = self.col
        positions = list(fused)
        rows = col.rows(positions) if packages or query.categories else {}
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
        out: dict[int, Ranked] = {}
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
