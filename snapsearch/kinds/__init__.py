"""Record-kind registry: built-in kinds plus any registered under entry points
``snapsearch.kinds``."""

from __future__ import annotations

from importlib.metadata import entry_points

from .base import RecordKind, RejectRecord
from .parts.kind import PartsKind
from .text.kind import TextKind

_BUILTIN: dict[str, type[RecordKind]] = {"parts": PartsKind, "text": TextKind}


def available_kinds() -> dict[str, type[RecordKind]]:
    kinds = dict(_BUILTIN)
    for ep in entry_points(group="snapsearch.kinds"):
        kinds.setdefault(ep.name, ep.load())
    return kinds


def get_kind(name: str) -> RecordKind:
    kinds = available_kinds()
    if name not in kinds:
        raise KeyError(
            f"unknown record kind {name!r}: known kinds are {', '.join(sorted(kinds))} "
            "(register more under the entry-point group 'snapsearch.kinds')"
        )
    return kinds[name]()


__all__ = ["RecordKind", "RejectRecord", "available_kinds", "get_kind"]
