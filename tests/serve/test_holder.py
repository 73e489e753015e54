"""The snapshot holder: refusing a snapshot it cannot serve, swapping on publish and rollback."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ModelMismatchError, StoreError
from tests.serve.conftest import (
    KNOWN_ID,
    Build,
    MakeApp,
    PointCurrent,
    holder_of,
    search,
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


def test_in_flight_reference_survives_a_swap(make_app: MakeApp, build: Build, tmp_path: Path,
                                             point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    first = build(root, 0, 300)
    second = build(root, 300, 500, minutes=5)
    point_current(root, first)

    with TestClient(make_app(root, close_grace_s=60)) as client:
        holder = holder_of(client)
        old = holder.current
        assert old is not None and old.snapshot_id == first
        point_current(root, second)
        assert client.portal is not None
        assert client.portal.call(holder.maybe_reload) is True
        # a request still holding the old engine finishes on it: not closed before the grace
        assert old.engine.get_record(KNOWN_ID) is not None
        assert snapshot_id_of(client) == second


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


def test_a_replaced_snapshot_is_closed_after_the_grace(make_app: MakeApp, build: Build,
                                                       tmp_path: Path,
                                                       point_current: PointCurrent) -> None:
    root = tmp_path / "snapshots"
    first = build(root, 0, 300)
    second = build(root, 300, 500, minutes=5)
    point_current(root, first)

    with TestClient(make_app(root, close_grace_s=0)) as client:
        holder = holder_of(client)
        old = holder.current
        assert old is not None
        point_current(root, second)
        assert client.portal is not None
        assert client.portal.call(holder.maybe_reload) is True
        assert old.snapshot.closed  # no grace: closed at once
        new = holder.current
        assert new is not None and new.snapshot_id == second and not new.snapshot.closed
