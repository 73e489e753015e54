"""The search engine over one opened snapshot: vector, lexical and hybrid modes.

Used by the server, by the validate gates and by eval alike: one search path.

Scores (all in [0, 1]; docs/search.md has the full account):
- ``dense``: cosine similarity of query and record embeddings, clamped at 0.
- ``lexical``: FTS5 bm25 divided by the best bm25 among this query's lexical hits.
- ``score`` in vector mode = dense; in lexical mode = lexical; in hybrid mode the fused score
  (the manifest's fusion: convex over z-scores or min-max, or rrf), then whatever the
  collection's record kind adds (``RecordKind.ranker``: for parts, the catalogue features the
  query names rank first, and exact ids / part numbers score 1.0 and come first).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from snapsearch.format.manifest import FusionSettings
from snapsearch.format.model import Encoder
from snapsearch.format.reader import Collection, Snapshot
from snapsearch.kinds import RecordKind, get_kind
from snapsearch.kinds.ranking import PARTIAL_SCORE, Exact, Ranker

from . import fusion, retrievers
from .errors import UnknownCollection
from .exclusion import Rule, applicable, check_fields, drop_excluded, parse_rules
from .filters import Filter, compile_where, parse_filters
from .lexical import Lexical
from .priors import NO_PRIORS, RecordPriors, load_priors
from .qcache import QueryEmbeddings
from .types import Hit, SearchRequest, SearchResponse

WEAK_COSINE = 0.30


@dataclass
class Candidate:
    pos: int
    dense: float | None = None
    lexical_raw: float | None = None
    lexical: float = 0.0
    fused: float = 0.0
    score: float = 0.0
    exact: Exact | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def tier(self) -> int:
        """0: named exactly, 1: named by a prefix, 2: everything else."""
        return 2 if self.exact is None else (0 if self.exact.full else 1)


@dataclass(frozen=True)
class Searchable:
    """A collection with its record kind, the kind's ranker, its lexical retriever and its
    filter masks (made once per collection)."""

    col: Collection
    kind: RecordKind
    ranker: Ranker
    lexical: Lexical
    masks: retrievers.FilterMasks
    priors: RecordPriors = NO_PRIORS  # feedback priors baked into the snapshot (priors.py)


class SearchEngine:
    def __init__(
        self, snapshot: Snapshot, encoder: Encoder | None, *, query_cache: int = 2048,
        fusion: FusionSettings | None = None, queries: QueryEmbeddings | None = None,
        priors: bool = True,
    ) -> None:
        """``fusion`` overrides the manifest's settings (for measurement only; serve never does).
        ``queries``: a query-embedding cache to share (one made with ``encoder``'s model: the
        server keeps its cache across snapshots of the same model); else a new one of
        ``query_cache`` entries. ``priors=False`` ranks without the snapshot's feedback priors
        (the quality gate compares)."""
        self.snapshot = snapshot
        self.encoder = encoder
        self.fusion = fusion or snapshot.manifest.fusion
        self.queries = queries if queries is not None else QueryEmbeddings(encoder, query_cache)
        self._searchable: dict[str, Searchable] = {}
        baked = load_priors(snapshot) if priors else {}
        for name, col in snapshot.collections.items():
            kind = get_kind(col.info.kind)
            self._searchable[name] = Searchable(
                col, kind, kind.ranker(col), Lexical(col), retrievers.FilterMasks(col),
                baked.get(name, NO_PRIORS),
            )

    # -- plumbing ------------------------------------------------------------------------
    def searchable(self, name: str | None) -> Searchable:
        if name is None:
            return next(iter(self._searchable.values()))
        found = self._searchable.get(name)
        if found is None:
            raise UnknownCollection(name, list(self._searchable))
        return found

    def collection(self, name: str | None) -> Collection:
        return self.searchable(name).col

    def kind(self, name: str | None) -> RecordKind:
        return self.searchable(name).kind

    def embed_query(self, text: str) -> np.ndarray:
        return self.queries.embed(text)

    def parse_filters(self, req: SearchRequest) -> list[Filter]:
        s = self.searchable(req.collection)
        return parse_filters(s.kind, s.col.name, req.filters)

    def exclusion_rules(self, req: SearchRequest, policy: Sequence[Rule] = ()) -> list[Rule]:
        """The request's ``exclude`` rules (checked against the collection's fields) and the
        ``policy`` rules that apply to its kind."""
        s = self.searchable(req.collection)
        rules = parse_rules(req.exclude or None)
        check_fields(rules, s.kind, s.col.name)
        return [*rules, *applicable(policy, s.kind)]

    # -- the one entry point -------------------------------------------------------------
    def search(self, req: SearchRequest, *, exclude: Sequence[Rule] = ()) -> SearchResponse:
        """``exclude``: rules every request gets (the server's policy), besides the request's."""
        t0 = time.perf_counter()
        s = self.searchable(req.collection)
        col = s.col
        where = compile_where(col, parse_filters(s.kind, col.name, req.filters))
        kept = None if where is None else s.masks.mask(where)
        rules = self.exclusion_rules(req, exclude)
        fcfg = self.fusion
        # one fixed pool per query, whatever the page: every page cuts the same ranking
        pool = fcfg.candidates
        cands: dict[int, Candidate] = {}
        lex_hits = 0
        qvec = None
        if req.mode in ("vector", "hybrid"):
            qvec = self.embed_query(req.query)
            for p, sim in retrievers.dense(col, qvec, pool, kept):
                cands[p] = Candidate(p, dense=max(0.0, sim))
        understood = None
        exact: list[Exact] = []
        if req.mode == "hybrid":
            understood = s.ranker.understand(req.query)
            exact = s.ranker.exact(understood, where)
            for e in exact:
                cands.setdefault(e.pos, Candidate(e.pos)).exact = e
            for p in s.ranker.candidates(understood, where):
                cands.setdefault(p, Candidate(p))
        if req.mode in ("lexical", "hybrid"):
            # hybrid scores every candidate on both retrievers: bm25 for the others' ones too
            lex, extra = s.lexical.search(req.query, pool, kept, also=list(cands))
            lex_hits = len(lex)
            top = lex[0][1] if lex else 1.0
            for p, sc in [*lex, *extra.items()]:
                c = cands.setdefault(p, Candidate(p))
                c.lexical_raw = sc
                c.lexical = min(1.0, sc / top) if top > 0 else 0.0
        best_cos = 0.0
        if qvec is not None:
            missing = [p for p, c in cands.items() if c.dense is None]
            if missing:
                sims = col.vectors[np.asarray(missing)] @ qvec
                for p, sim in zip(missing, sims.tolist(), strict=True):
                    cands[p].dense = max(0.0, float(sim))
            best_cos = max((c.dense or 0.0 for c in cands.values()), default=0.0)

        if req.mode == "vector":
            for c in cands.values():
                c.fused = c.score = c.dense or 0.0
        elif req.mode == "lexical":
            for c in cands.values():
                c.fused = c.score = c.lexical
        else:
            self._fuse(cands, fcfg)
            fused = {p: c.fused for p, c in cands.items()}
            for p, verdict in s.ranker.rank(understood, fused).items():
                cands[p].score = verdict.score
                cands[p].reasons = verdict.reasons
            for c in cands.values():
                if c.exact is not None:
                    c.score = 1.0 if c.exact.full else max(c.score, PARTIAL_SCORE)
            s.priors.apply(cands.values())

        ranked_all = sorted(cands.values(), key=lambda c: (c.tier, -c.score, c.pos))
        ranked_all = [c for c in ranked_all if c.score >= req.min_score or c.exact]
        excluded: Counter[str] = Counter()
        if rules:
            dropped, excluded = drop_excluded(col, s.kind, [c.pos for c in ranked_all], rules)
            ranked_all = [c for c in ranked_all if c.pos not in dropped]
        page = ranked_all[req.offset : req.offset + req.limit]
        hits = self._hits(col, page, req)
        match: Literal["good", "weak", "none"]
        if not ranked_all:
            match = "none"
        elif req.mode == "lexical":
            match = "good"
        elif exact or lex_hits or best_cos >= WEAK_COSINE:
            match = "good" if (exact or best_cos >= WEAK_COSINE or req.mode == "hybrid") else "weak"
        else:
            match = "weak"
        return SearchResponse(
            query=req.query, mode=req.mode, collection=col.name,
            snapshot_id=self.snapshot.snapshot_id, total_candidates=len(ranked_all), match=match,
            hits=hits, offset=req.offset, limit=req.limit,
            took_ms=round((time.perf_counter() - t0) * 1000, 3), excluded=dict(excluded),
        )

    @staticmethod
    def _fuse(cands: dict[int, Candidate], fcfg: FusionSettings) -> None:
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

    @staticmethod
    def _hits(col: Collection, page: list[Candidate], req: SearchRequest) -> list[Hit]:
        rows = col.rows([c.pos for c in page])
        hits = []
        for c in page:
            row = rows[c.pos]
            reasons = list(c.reasons)
            if c.exact is not None:
                reasons.insert(0, c.exact.reason)
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
        return hits

    def get_record(
        self, record_id: str, collection: str | None = None
    ) -> dict[str, Any] | None:
        return self.collection(collection).detail(record_id)
