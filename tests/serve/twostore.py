"""A served two-collection store (parts + notes) for the lookup, collections, context and
feedback endpoint tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import point_current, write_passing_gates
from tests.multistore import build_two, sources


def two_collection_store(base: Path) -> Path:
    root = base / "store"
    result = build_two(root, *sources(base))
    write_passing_gates(root / result.snapshot_id)  # as publish does: only a gated one is served
    point_current(root, result.snapshot_id)
    return root
