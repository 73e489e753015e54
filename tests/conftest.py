"""Shared fixtures: small real part files, the fake encoder, snapshots built with the real
writer."""

from __future__ import annotations

import gzip
import json
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

import pipelines.instance
import pipelines.job
from pipelines.fetch import fetch_source
from pipelines.transform.build import (
    BuildOptions,
    BuildResult,
    CollectionSpec,
    build_options,
    build_snapshot,
)
from snapsearch.format import layout, links
from snapsearch.format.gates import GateReport, GateResult, write_gate_report
from snapsearch.format.hashing import sha256_file
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshots
from snapsearch.settings import SAMPLE_SOURCE, PipelineSettings


@pytest.fixture(autouse=True)
def _close_snapshots_left_open() -> Iterator[None]:
    """Close every snapshot the test opened and left open. Snapshots opened by module- or
    session-scoped fixtures (set up before this one) stay open until their fixture ends; one
    dropped without closing warns with a ResourceWarning, an error here (pyproject)."""
    before = weakref.WeakSet(open_snapshots())
    yield
    for snap in open_snapshots():
        if snap not in before:
            snap.close()


# parts every small fixture contains (queries in tests refer to them)
ANCHOR_PARTS = ("C25744", "C6186", "C1525", "C14663")


def sample_records(n: int = 300) -> list[dict]:
    """The first ``n`` parts of the bundled sample plus the anchor parts (deterministic)."""
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    picked = rows[:n] + [r for r in rows[n:] if r["lcsc"] in ANCHOR_PARTS]
    return picked


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture(autouse=True)
def _throwaway_dagster_instance(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs record into a throwaway Dagster instance, unless the test is marked
    ``dagster_instance``: the store's persistent one costs seconds of SQLite fsyncs per run on a
    busy machine, and the tests of that instance are marked."""
    if request.node.get_closest_marker("dagster_instance"):
        return
    @contextmanager
    def throwaway(_settings: object) -> Iterator[DagsterInstance]:
        with DagsterInstance.ephemeral() as instance:
            yield instance

    monkeypatch.setattr(pipelines.job, "store_instance", throwaway)
    monkeypatch.setattr(pipelines.instance, "store_instance", throwaway)


@pytest.fixture(autouse=True)
def _no_snapsearch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the declared defaults, not the SNAPSEARCH_* variables of the shell."""
    for key in list(os.environ):
        if key.startswith("SNAPSEARCH_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def hash_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture
def parts_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "parts.jsonl", sample_records())


def build_from(source: Path, root: Path, encoder: object, *, kind: str = "parts",
               collection: str = "parts", settings: PipelineSettings | None = None) -> BuildResult:
    """Fetch + build through the real pipeline functions."""
    s = settings or PipelineSettings()
    raw = fetch_source(str(source), root)
    return build_snapshot(root, [CollectionSpec(collection, kind, raw)], encoder,  # type: ignore[arg-type]
                          build_options(s))


@pytest.fixture
def built(tmp_path: Path, parts_file: Path, hash_encoder: HashingEncoder) -> Iterator[BuildResult]:
    yield build_from(parts_file, tmp_path / "store", hash_encoder)


# -- snapshot stores built with the real writer and the fake HashingEncoder (fast, offline) --
# The session store holds one snapshot of ~300 sample parts (C25744, a 10k 0402 resistor,
# included) with a passing gate report; tests that move ``current`` build their own stores.

REPO = Path(__file__).resolve().parents[1]
SAMPLE = SAMPLE_SOURCE
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
    links.flip(root, layout.CURRENT, snapshot_id)


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
    if publish:  # as publish does: only a snapshot whose gates passed becomes current
        write_passing_gates(root / result.snapshot_id)
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
    sid = links.current_id(store)
    assert sid is not None
    return sid


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


