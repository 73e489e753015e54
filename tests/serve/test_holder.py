"""The snapshot holder: refusing a snapshot it cannot serve, swapping on publish and rollback,
closing a replaced snapshot on its last request and never on a timer, a loop that never waits."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from serve.app import create_app
from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ModelMismatchError, StoreError
from snapsearch.format.model import HashingEncoder
from tests.serve.conftest import (
    Build,
    MakeApp,
    PointCurrent,
    holder_of,
    search,
    settings_for,
    snapshot_id_of,
)

# -- refusing to start ---------------------------------------------------------------------


def test_refuses_a_model_mismatch(make_app: MakeApp, store: Path, snapshot_id: str) -> None:
    app = make_app(store, dim=32)  # the snapshot was built with HashingEncoder(dim=64)

    with pytest.raises(ModelMismatchError) as err:
        with TestClient(app):
            pass
    assert snapshot_id in str(err.value)
    assert "dim 64 != installed 32" in str(err.value)


def test_refuses_a_corrupted_file(make_app: MakeApp, store: Path, snapshot_id: str,
                                  tmp_path: Path, point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    shutil.copytree(store / snapshot_id, root / snapshot_id)
    shutil.copytree(store / layout.GATES_DIR, root / layout.GATES_DIR)  # its gate report
    point_current(root, snapshot_id)
    vectors = root / snapshot_id / layout.vectors_file("parts")
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    vectors.write_bytes(bytes(data))

    with pytest.raises(IntegrityError) as err:
        with TestClient(make_app(root)):
            pass
    assert layout.vectors_file("parts") in str(err.value)
    assert snapshot_id in str(err.value)

    # sizes only: the flipped byte goes unnoticed, as documented for verify_checksums=False
    with TestClient(make_app(root, verify_checksums=False)) as client:
        assert client.get("/readyz").status_code == 200


def test_refuses_without_a_published_snapshot(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="current"):
        with TestClient(make_app(tmp_path / "empty")):
            pass


# -- swapping snapshots --------------------------------------------------------------------


def test_swap_and_rollback(make_app: MakeApp, build: Build, tmp_path: Path,
                           point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    first = build(root, 0, 300)
    second = build(root, 300, 500, minutes=5)

    with TestClient(make_app(root)) as client:
        holder = holder_of(client)
        assert client.portal is not None
        assert snapshot_id_of(client) == second  # build() published the second one
        assert client.portal.call(holder.maybe_reload) is False  # nothing moved

        point_current(root, first)  # rollback
        assert client.portal.call(holder.maybe_reload) is True
        assert snapshot_id_of(client) == first
        assert search(client, query="resistor")["snapshot_id"] == first
        assert client.get("/v1/records/C25744").headers["etag"] == f'"{first}"'
        info = [x for x in client.get("/metrics").text.splitlines()
                if x.startswith("snapsearch_snapshot_info{")]
        assert len(info) == 1 and first in info[0]

        point_current(root, second)  # publish again
        assert client.portal.call(holder.maybe_reload) is True
        assert search(client, query="resistor")["snapshot_id"] == second


def test_a_bad_new_snapshot_keeps_the_old_one(make_app: MakeApp, build: Build, tmp_path: Path,
                                              point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    good = build(root, 0, 300)
    bad = build(root, 300, 500, minutes=5, dim=32, publish=False)  # another model

    with TestClient(make_app(root)) as client:
        holder = holder_of(client)
        assert client.portal is not None
        point_current(root, bad)
        assert client.portal.call(holder.maybe_reload) is False
        assert client.get("/readyz").json()["snapshot_id"] == good
        assert search(client, query="resistor")["snapshot_id"] == good
        metrics = client.get("/metrics").text
        assert 'snapsearch_snapshot_reloads_total{result="error"} 1.0' in metrics
        assert client.portal.call(holder.maybe_reload) is False  # not retried every poll

        (root / layout.CURRENT).unlink()  # current vanished: keep serving
        assert client.portal.call(holder.maybe_reload) is False
        assert client.get("/readyz").status_code == 200


def test_the_poller_picks_up_a_publish(make_app: MakeApp, build: Build, tmp_path: Path,
                                       point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    first = build(root, 0, 300)
    second = build(root, 300, 500, minutes=5)
    point_current(root, first)

    with TestClient(make_app(root, reload_poll_s=0.05)) as client:
        assert snapshot_id_of(client) == first
        point_current(root, second)
        deadline = time.monotonic() + 10
        while snapshot_id_of(client) != second and time.monotonic() < deadline:
            time.sleep(0.05)
        assert snapshot_id_of(client) == second


def test_a_refused_snapshot_is_logged_and_counted_and_never_swapped_in(
    make_app: MakeApp, build: Build, tmp_path: Path, point_current: PointCurrent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "snapshots"
    good = build(root, 0, 300)
    corrupt = build(root, 300, 500, minutes=5, publish=False)
    vectors = root / corrupt / layout.vectors_file("parts")
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: only the sha256 sees it
    vectors.write_bytes(bytes(data))

    with TestClient(make_app(root)) as client:
        holder = holder_of(client)
        assert client.portal is not None
        point_current(root, corrupt)
        assert client.portal.call(holder.maybe_reload) is False
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["snapshot_id"] == good
        assert search(client, query="resistor")["snapshot_id"] == good
        metrics = client.get("/metrics").text
        assert 'snapsearch_snapshot_rejected_total{reason="IntegrityError"} 1.0' in metrics
        assert 'snapsearch_snapshot_reloads_total{result="error"} 1.0' in metrics
    refused = [r.getMessage() for r in caplog.records if "refusing" in r.getMessage()]
    assert len(refused) == 1 and corrupt in refused[0] and good in refused[0]


# -- a replaced snapshot closes on its last request, never on a timer -------------------------


class GatedEncoder(HashingEncoder):
    """Encodes like HashingEncoder; a text starting with "gate" waits until ``go`` is set."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.entered = threading.Event()
        self.go = threading.Event()

    def encode(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        if any(t.startswith("gate") for t in texts):
            self.entered.set()
            assert self.go.wait(30), "the test never opened the gate"
        return super().encode(texts, **kw)


@pytest.fixture
def two_snapshots(build: Build, tmp_path: Path, point_current: PointCurrent) -> Iterator[
        tuple[Path, str, str]]:
    root = tmp_path / "snapshots"
    first = build(root, 0, 300)
    second = build(root, 300, 500, minutes=5)
    point_current(root, first)
    yield root, first, second


@pytest.mark.parametrize("close_grace_s", [0.0, 0.2])
def test_a_request_in_flight_finishes_on_the_snapshot_it_started_on(
    two_snapshots: tuple[Path, str, str], point_current: PointCurrent, close_grace_s: float,
) -> None:
    """The cutover of issue 11 (finding 6): with the close delay at 0 the old snapshot's
    database was closed under the request (500 'Cannot operate on a closed database', or a
    crash in libsqlite3). It must stay open until the request ends, whatever the delay."""
    root, first, second = two_snapshots
    encoder = GatedEncoder()
    app = create_app(settings_for(root, close_grace_s=close_grace_s),
                     encoder_factory=lambda _s: encoder)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        holder = holder_of(client)
        old = holder.current
        assert old is not None and old.snapshot_id == first
        slow = pool.submit(client.post, "/v1/search", json={"query": "gate resistor"})
        assert encoder.entered.wait(10)  # the request holds the first snapshot

        point_current(root, second)
        assert client.portal is not None
        assert client.portal.call(holder.maybe_reload) is True
        assert snapshot_id_of(client) == second
        time.sleep(close_grace_s + 0.3)  # past any delay: only the request keeps it open
        assert not old.snapshot.closed
        assert "snapsearch_snapshots_retiring 1.0" in client.get("/metrics").text

        encoder.go.set()
        r = slow.result(timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["snapshot_id"] == first and r.json()["hits"]
        assert old.snapshot.closed  # closed by its last request, not by a timer
        assert "snapsearch_snapshots_retiring 0.0" in client.get("/metrics").text
        new = holder.current
        assert new is not None and new.snapshot_id == second and not new.snapshot.closed


def test_a_replaced_snapshot_nobody_uses_is_closed_at_once(
    make_app: MakeApp, two_snapshots: tuple[Path, str, str], point_current: PointCurrent,
) -> None:
    root, first, second = two_snapshots
    with TestClient(make_app(root)) as client:
        holder = holder_of(client)
        old = holder.current
        assert old is not None
        point_current(root, second)
        assert client.portal is not None
        assert client.portal.call(holder.maybe_reload) is True
        assert old.snapshot.closed
        new = holder.current
        assert new is not None and new.snapshot_id == second and not new.snapshot.closed


def test_shutdown_leaves_a_snapshot_in_use_open_until_its_request_ends(
    two_snapshots: tuple[Path, str, str],
) -> None:
    root, first, _ = two_snapshots
    encoder = GatedEncoder()
    app = create_app(settings_for(root), encoder_factory=lambda _s: encoder)
    client = TestClient(app)
    client.__enter__()
    holder = holder_of(client)
    loaded = holder.acquire()  # as a request the server gave up waiting for would
    assert loaded is not None
    client.__exit__(None, None, None)  # the lifespan ends: holder.close()
    assert not loaded.snapshot.closed
    assert holder.release(loaded) is True
    holder.close_retired(loaded)
    assert loaded.snapshot.closed


# -- the event loop never waits on a search or a swap -------------------------------------------


def test_the_loop_answers_while_a_search_and_a_swap_are_under_way(
    two_snapshots: tuple[Path, str, str], point_current: PointCurrent,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, first, second = two_snapshots
    encoder = GatedEncoder()
    app = create_app(settings_for(root), encoder_factory=lambda _s: encoder)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        holder = holder_of(client)
        slow = pool.submit(client.post, "/v1/search", json={"query": "gate capacitor"})
        assert encoder.entered.wait(10)  # a search is stuck in its worker thread

        opened = threading.Event()
        real_open = holder.open

        def slow_open(target: Path) -> Any:  # a swap that takes long (a big sha256 check)
            opened.set()
            time.sleep(1.5)
            return real_open(target)

        monkeypatch.setattr(holder, "open", slow_open)
        point_current(root, second)
        assert client.portal is not None
        swap = client.portal.start_task_soon(holder.maybe_reload)
        assert opened.wait(10)
        for path in ("/livez", "/readyz", "/metrics"):
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200
            assert time.perf_counter() - t0 < 1.0, path  # not behind the search or the swap
        assert client.get("/readyz").json()["snapshot_id"] == first  # still the old one
        assert swap.result(timeout=30) is True
        encoder.go.set()
        assert slow.result(timeout=10).status_code == 200
        assert client.get("/readyz").json()["snapshot_id"] == second


def test_query_cache_counters_grow_across_swaps_of_the_same_model(
    make_app: MakeApp, two_snapshots: tuple[Path, str, str], point_current: PointCurrent,
) -> None:
    root, first, second = two_snapshots

    def counters(client: TestClient) -> tuple[float, float, float]:
        text = client.get("/metrics").text
        found = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                 if line.startswith("snapsearch_query_cache_")}
        return (found["snapsearch_query_cache_hits_total"],
                found["snapsearch_query_cache_misses_total"],
                found["snapsearch_query_cache_entries"])

    with TestClient(make_app(root)) as client:
        hits0, misses0, _ = counters(client)
        search(client, query="ceramic capacitor 0603")
        search(client, query="ceramic capacitor 0603")
        hits1, misses1, entries = counters(client)
        assert (hits1 - hits0, misses1 - misses0) == (1, 1) and entries >= 1
        search(client, query="ceramic capacitor 0603", mode="lexical")  # no embedding
        assert counters(client)[:2] == (hits1, misses1)

        point_current(root, second)
        assert client.portal is not None
        assert client.portal.call(holder_of(client).maybe_reload) is True
        search(client, query="ceramic capacitor 0603")  # same model: still cached
        hits2, misses2, _ = counters(client)
        assert (hits2, misses2) == (hits1 + 2, misses1)  # the new one's warm-up canary too


def test_without_a_query_cache_every_search_encodes(
    make_app: MakeApp, store: Path,
) -> None:
    with TestClient(make_app(store, query_cache=0)) as client:
        for _ in range(3):
            search(client, query="ceramic capacitor 0603")
        text = client.get("/metrics").text
        assert "snapsearch_query_cache_hits_total 0.0" in text
        assert "snapsearch_query_cache_entries 0.0" in text
