"""The start of a run: take the run lock for it, repair what a killed move left, remove the
leftovers of killed processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .leftovers import clean_leftovers
from .lock import store_lock
from .repair import repair_links
from .runlock import join_run


@dataclass(frozen=True)
class RunStart:
    repaired: str | None  # what repair_links did, if anything
    removed: list[str]  # leftovers removed, relative to the store root


def begin_run(root: Path, run_id: str) -> RunStart:
    """Join the run lock for ``run_id`` (StoreError at once when another run holds it), then,
    under the store lock, repair the links and remove every leftover of a killed process."""
    root.mkdir(parents=True, exist_ok=True)
    join_run(root, run_id)
    with store_lock(root):
        repaired = repair_links(root)
        removed = clean_leftovers(root)
    return RunStart(repaired, removed)
