"""Fixtures for the fetch stage: a store root, a fixed clock, HTTP through a mock transport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipelines.fetch import RawVersion, fetch_source
from snapsearch.format import layout

URL = "https://data.example.test/exports/parts-3k.jsonl.gz"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC)


def clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def no_sleep(_: float) -> None:
    pass


def objects(root: Path) -> list[Path]:
    d = layout.raw_objects_dir(root)
    return sorted(d.iterdir()) if d.exists() else []


def fetch_url(root: Path, handler: Callable[[httpx.Request], httpx.Response], **kw) -> RawVersion:
    kw.setdefault("sleep", no_sleep)
    return fetch_source(URL, root, transport=httpx.MockTransport(handler), **kw)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"
