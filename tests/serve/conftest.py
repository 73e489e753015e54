"""Snapshot stores built with the real writer and the fake HashingEncoder (fast, offline).

The session store holds one snapshot of ~300 sample parts (C25744, a 10k 0402 resistor,
included) with a passing gate report; tests that move ``current`` build their own stores.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pipelines.fetch import fetch_source
from pipelines.transform.build import BuildOptions, CollectionSpec, build_snapshot
from serve.app import create_app
from serve.settings import ServeSettings
from snapfmt import layout
from snapfmt.gates import GateReport, GateResult, write_gate_report
from snapfmt.hashing import sha256_file
from snapfmt.model import HashingEncoder

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "parts-3k.jsonl.gz"
KNOWN_ID = "C25744"  # 10k 0402 thick film resistor, Basic, in stock
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

Build = Callable[..., str]


@pytest.fixture(scope="session")
def sample_lines() -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return [line for line in f if line.strip()]


def pick(lines: list[str], start: int, stop: int) -> list[str]:
    """lines[start:stop] plus the known resistor."""
    chosen = lines[start:stop]
    if not any(json.loads(x)["lcsc"] == KNOWN_ID for x in chosen):
        chosen += [x for x in lines if json.loads(x)["lcsc"] == KNOWN_ID]
    return chosen


def point_current(root: Path, snapshot_id: str) -> None:
    """Flip ``<root>/current`` atomically (relative link), as publish and rollback do."""
    tmp = root / ".current.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(snapshot_id, tmp)
    os.replace(tmp, root / layout.CURRENT)


def build_into(
    root: Path, lines: list[str], *, dim: int = 64, now: datetime = T0, publish: bool = True
) -> str:
    """Build one snapshot of ``lines`` into ``root``; returns its id."""
    src_dir = root.parent / f"src-{now:%H%M%S%f}"
    src_dir.mkdir(parents=True, exist_ok=True)
    src = src_dir / "parts.jsonl"
    src.write_text("".join(lines), encoding="utf-8")
    raw = fetch_source(str(src), root, now=lambda: now)
    result = build_snapshot(
        root, [CollectionSpec("parts", "parts", raw)], HashingEncoder(dim), BuildOptions(), now=now
    )
    if publish:
        point_current(root, result.snapshot_id)
    return result.snapshot_id


def write_passing_gates(snapshot_dir: Path) -> None:
    report = GateReport(
        snapshot_id=snapshot_dir.name,
        manifest_sha256=sha256_file(snapshot_dir / layout.MANIFEST),
        ran_at="2024-05-01T12:05:00Z",
        gates={"ann_recall": GateResult(passed=True, description="recall@10 vs exact >= 0.98")},
    )
    write_gate_report(snapshot_dir, report)


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, sample_lines: list[str]) -> Path:
    root = tmp_path_factory.mktemp("store") / "snapshots"
    sid = build_into(root, pick(sample_lines, 0, 300))
    write_passing_gates(root / sid)
    return root


@pytest.fixture(scope="session")
def snapshot_id(store: Path) -> str:
    return (store / layout.CURRENT).resolve().name


@pytest.fixture
def build(tmp_path: Path, sample_lines: list[str]) -> Build:
    """build(root, start, stop, minutes=0, dim=64, publish=True) -> snapshot id."""

    def _build(
        root: Path, start: int = 0, stop: int = 300, *, minutes: int = 0, dim: int = 64,
        publish: bool = True,
    ) -> str:
        return build_into(
            root, pick(sample_lines, start, stop), dim=dim,
            now=T0 + timedelta(minutes=minutes), publish=publish,
        )

    return _build


def settings_for(root: Path, **kw: object) -> ServeSettings:
    kw.setdefault("reload_poll_s", 0)
    return ServeSettings(root=root, **kw)  # type: ignore[arg-type]


def make_app(root: Path, *, dim: int = 64, **kw: object) -> Starlette:
    return create_app(settings_for(root, **kw), encoder_factory=lambda: HashingEncoder(dim))


@pytest.fixture(name="make_app")
def make_app_fixture() -> Callable[..., Starlette]:
    """make_app(root, dim=64, **settings): an app whose encoder is HashingEncoder(dim)."""
    return make_app


@pytest.fixture(name="point_current")
def point_current_fixture() -> Callable[[Path, str], None]:
    return point_current


@pytest.fixture(scope="module")
def app(store: Path) -> Starlette:
    return make_app(store)


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
