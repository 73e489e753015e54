"""What a record kind adds to hybrid ranking: the seam between the engine and a kind.

The engine (``snapsearch.search``) retrieves candidates with its two retrievers and fuses their
scores; then it asks the collection's kind, through one ``Ranker`` per collection, for what only
the kind understands: exact identifiers in the query (a part number), extra candidates that match
what the query names (a value, a package), and the final score of each candidate given the fused
one. The base ``Ranker`` adds nothing: a kind without query understanding ranks by fusion alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SqlWhere = tuple[str, list[Any]]
"""A condition over the collection's lookup table (SQL with ``?`` placeholders, and the values),
compiled by the engine from a request's hard filters; a kind's SQL must AND it in."""


@dataclass(frozen=True)
class Exact:
    """A record the query names exactly: ``full`` ranks first at score 1.0 (an id, a whole part
    number); otherwise (a prefix) it ranks right after them, at no less than ``PARTIAL_SCORE``."""

    pos: int
    reason: str
    full: bool = True


PARTIAL_SCORE = 0.9


@dataclass
class Ranked:
    """A kind's verdict on one candidate: its score in [0, 1] and the reasons shown with it."""

    score: float
    reasons: list[str] = field(default_factory=list)


class Ranker:
    """Query understanding for one collection; the base class understands nothing.

    ``understand`` runs once per query and its result is handed back to the other methods, so a
    kind parses a query once however many steps read it.
    """

    def understand(self, text: str) -> Any:
        return None

    def exact(self, query: Any, where: SqlWhere | None) -> list[Exact]:
        """Records the query names exactly, in the hard filters ``where``."""
        return []

    def candidates(self, query: Any, where: SqlWhere | None) -> list[int]:
        """Positions of extra candidates neither retriever may rank high (in ``where``)."""
        return []

    def rank(self, query: Any, fused: Mapping[int, float]) -> dict[int, Ranked]:
        """Final scores from the fused ones (position -> [0, 1]); {} keeps the fused scores."""
        return {}
