"""Feedback events -> votes -> prior weights (plain functions; the asset and the build call them).

- A vote is one session's latest outcome for one record (a session cannot stack votes by
  repeating itself): ``+weight`` for positive, ``-weight`` for negative.
- A record's prior is ``tanh(net / RECORD_SCALE)`` of the net of its votes, in (-1, 1): three
  positive votes give 0.76, one negative -0.32; it is bounded however many votes come.
- A collection's prior is ``tanh(net / COLLECTION_SCALE)`` of the net of its records' votes.
- Only votes naming a record the new snapshot holds are used (``events_used``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from snapsearch.format.feedback import FeedbackEvent, LogRead

RECORD_SCALE = 3.0
COLLECTION_SCALE = 20.0


@dataclass(frozen=True)
class FeedbackVotes:
    """The log as one build reads it: its digest and size, and the votes of its events."""

    sha256: str
    bytes: int
    events: int
    invalid: int = 0
    # (collection, record id) -> session -> signed weight (the session's latest vote)
    votes: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.events == 0


def aggregate(events: Iterable[FeedbackEvent]) -> dict[tuple[str, str], dict[str, float]]:
    """Each session's latest vote per record (events in log order)."""
    votes: dict[tuple[str, str], dict[str, float]] = {}
    for e in events:
        votes.setdefault((e.collection, e.id), {})[e.session_id] = e.sign * e.weight
    return votes


def votes_of(read: LogRead) -> FeedbackVotes:
    return FeedbackVotes(read.sha256, read.bytes, len(read.events), read.invalid,
                         aggregate(read.events))


@dataclass(frozen=True)
class Priors:
    records: dict[str, dict[str, float]]  # collection -> id -> weight
    collections: dict[str, float]
    used: int  # votes naming a record of the snapshot


def compute_priors(votes: FeedbackVotes, present: Mapping[str, set[str]]) -> Priors:
    """Weights for the records of ``present`` (collection -> ids in the snapshot) with votes."""
    records: dict[str, dict[str, float]] = {}
    nets: dict[str, float] = {}
    used = 0
    for (collection, rid), sessions in sorted(votes.votes.items()):
        if rid not in present.get(collection, set()):
            continue
        used += len(sessions)
        net = sum(sessions.values())
        nets[collection] = nets.get(collection, 0.0) + net
        w = round(math.tanh(net / RECORD_SCALE), 6)
        if w != 0.0:
            records.setdefault(collection, {})[rid] = w
    collections = {c: round(math.tanh(n / COLLECTION_SCALE), 6) for c, n in sorted(nets.items())}
    return Priors(records, collections, used)
