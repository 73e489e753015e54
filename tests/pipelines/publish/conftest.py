"""Fixtures for the publish stage: an empty store root and fake snapshots with gate reports."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.publish import lock
from snapsearch.format import layout
from snapsearch.format.gates import GateReport, GateResult, write_gate_report
from snapsearch.format.hashing import sha256_file
from snapsearch.format.manifest import seal_line
from tests.conftest import Build, write_passing_gates

T0 = datetime(2026, 11, 22, 19, 8, 12, tzinfo=UTC)
A = "20261120T100000000000Z-aaaaaaaa"
B = "20261121T100000000000Z-bbbbbbbb"
C = "20261122T100000000000Z-cccccccc"
D = "20261123T100000000000Z-dddddddd"

MakeSnapshot = Callable[..., Path]
RealSnapshots = Callable[[int], list[str]]


def clock(moment: datetime = T0) -> Callable[[], datetime]:
    return lambda: moment


def log_bytes(root: Path) -> bytes:
    path = root / layout.PUBLISH_LOG
    return path.read_bytes() if path.exists() else b""


def tmp_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(layout.TMP_PREFIX))


@contextmanager
def held_lock(root: Path) -> Iterator[None]:
    """Hold the store lock through a separate open file description (as another process would)."""
    fd = os.open(root / layout.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "snapshots"
    r.mkdir()
    return r


@pytest.fixture
def make_snapshot(root: Path) -> MakeSnapshot:
    """A fake snapshot dir: a minimal manifest.json and a gate report bound to its bytes.

    gates: "passed", "failed", "missing" (never ran) or "stale" (ran on other manifest bytes).
    """

    def make(snapshot_id: str, *, gates: str = "passed") -> Path:
        d = root / snapshot_id
        d.mkdir()
        manifest = d / layout.MANIFEST
        _write_sealed(manifest, {"snapshot_id": snapshot_id})
        if gates == "missing":
            return d
        report = GateReport(
            snapshot_id=snapshot_id,
            manifest_sha256=sha256_file(manifest),
            ran_at=T0.isoformat(),
            gates={"integrity": GateResult(passed=gates != "failed", description="ok")},
        )
        write_gate_report(d, report)
        if gates == "stale":
            _write_sealed(manifest, {"snapshot_id": snapshot_id, "x": 1})
        return d

    return make


def _write_sealed(manifest: Path, data: dict[str, object]) -> None:
    text = json.dumps(data)
    manifest.write_text(text, encoding="utf-8")
    (manifest.parent / layout.SEAL).write_text(seal_line(text.encode()), encoding="ascii")


@pytest.fixture
def fast_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "LOCK_WAIT_S", 0.3)


@pytest.fixture
def real_snapshots(root: Path, build: Build) -> RealSnapshots:
    """real(n): n real snapshots (written by the pipeline's writer, 20 parts each, one minute
    apart, oldest first) with passing gate reports, none published: what rollback verifies."""

    def real(n: int) -> list[str]:
        ids = [build(root, 0, 20, minutes=i, publish=False) for i in range(n)]
        for sid in ids:
            write_passing_gates(root / sid)
        return ids

    return real
