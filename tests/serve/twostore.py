"""A served two-collection store (parts + notes) for the lookup, collections, context and
feedback endpoint tests."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import point_current
from tests.multistore import build_two, sources


def two_collection_store(base: Path) -> Path:
    root = base / "store"
    result = build_two(root, *sources(base))
    point_current(root, result.snapshot_id)
    return root
