"""The server in-process (TestClient runs the lifespan), over snapshots built by the real writer."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from serve.app import SnapshotHolder
from snapsearch.format import layout
from snapsearch.format.errors import IntegrityError, ModelMismatchError, StoreError

KNOWN_ID = "C25744"  # in every test snapshot (see conftest)
Build = Callable[..., str]
MakeApp = Callable[..., Starlette]
PointCurrent = Callable[[Path, str], None]


def search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def holder_of(client: TestClient) -> SnapshotHolder:
    holder = client.app_state["holder"]
    assert isinstance(holder, SnapshotHolder)
    return holder


def snapshot_id_of(client: TestClient) -> str:
    r = client.get("/v1/snapshot")
    assert r.status_code == 200
    return str(r.json()["snapshot_id"])


# -- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "subscores"),
    [("vector", {"dense"}), ("lexical", {"lexical"}), ("hybrid", {"dense", "lexical"})],
)
def test_each_mode_scores_in_unit_interval(
    client: TestClient, snapshot_id: str, mode: str, subscores: set[str]
) -> None:
    body = search(client, query="10k 0402 resistor", mode=mode, limit=20)

    assert body["mode"] == mode
    assert body["snapshot_id"] == snapshot_id
    assert body["match"] in ("good", "weak")
    assert body["hits"]
    for hit in body["hits"]:
        assert 0.0 <= hit["score"] <= 1.0
        assert set(hit["scores"]) == subscores
        assert all(0.0 <= v <= 1.0 for v in hit["scores"].values())
    scores = [h["score"] for h in body["hits"]]
    if mode != "hybrid":  # hybrid puts exact matches first, then by score
        assert scores == sorted(scores, reverse=True)


def test_exact_id_comes_first_in_hybrid(client: TestClient) -> None:
    body = search(client, query=KNOWN_ID, mode="hybrid")

    assert body["hits"][0]["id"] == KNOWN_ID
    assert body["hits"][0]["score"] == 1.0
    assert any("exact id" in r for r in body["hits"][0]["reasons"])


def test_filters_hold_for_every_hit(client: TestClient) -> None:
    filters = {"package": "0402", "library_type": "Basic", "in_stock": True}
    body = search(client, query="resistor", mode="hybrid", limit=50, filters=filters)

    assert body["hits"]
    for hit in body["hits"]:
        rec = hit["record"]
        assert rec["package"] == "0402"
        assert rec["library_type"] == "Basic"
        assert rec["stock"] > 0


def test_numeric_range_filter_holds_for_every_hit(client: TestClient) -> None:
    rng = {"attribute": "Resistance", "key": "resistance", "min": 1_000, "max": 100_000}
    body = search(client, query="chip resistor", mode="vector", limit=50,
                  filters={"numeric": [rng]})

    assert body["hits"]
    assert KNOWN_ID in {h["id"] for h in body["hits"]}
    for hit in body["hits"]:
        detail = client.get(f"/v1/records/{hit['id']}").json()["record"]
        value = detail["attributes_numeric"]["Resistance"]["resistance"]["value"]
        assert 1_000 <= value <= 100_000


def test_stock_min_filter(client: TestClient) -> None:
    body = search(client, query="capacitor", mode="lexical", limit=50,
                  filters={"stock_min": 1_000_000})
    assert body["hits"]
    assert all(h["record"]["stock"] >= 1_000_000 for h in body["hits"])


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_pagination_keeps_the_ranking(client: TestClient, mode: str) -> None:
    query = "ceramic capacitor 0805"
    whole = search(client, query=query, mode=mode, limit=12)
    pages = [search(client, query=query, mode=mode, limit=4, offset=o) for o in (0, 4, 8)]

    assert [h["id"] for p in pages for h in p["hits"]] == [h["id"] for h in whole["hits"]]
    assert pages[1]["offset"] == 4 and pages[1]["limit"] == 4


def test_no_match_is_200_with_match_none(client: TestClient) -> None:
    body = search(client, query="zzzzqqqq", mode="lexical")

    assert body["match"] == "none"
    assert body["hits"] == []


# -- records and introspection -------------------------------------------------------------------


def test_record_with_etag(client: TestClient, snapshot_id: str) -> None:
    r = client.get(f"/v1/records/{KNOWN_ID}")

    assert r.status_code == 200
    assert r.headers["etag"] == f'"{snapshot_id}"'
    body = r.json()
    assert body["id"] == KNOWN_ID and body["collection"] == "parts"
    assert body["snapshot_id"] == snapshot_id
    assert body["record"]["package"] == "0402"

    again = client.get(f"/v1/records/{KNOWN_ID}", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
    assert client.get(f"/v1/records/{KNOWN_ID}?collection=parts").status_code == 200


def test_unknown_record_is_404(client: TestClient) -> None:
    r = client.get("/v1/records/C999999999")

    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_snapshot_endpoint(client: TestClient, snapshot_id: str) -> None:
    r = client.get("/v1/snapshot")

    assert r.status_code == 200
    assert r.headers["etag"] == f'"{snapshot_id}"'
    body = r.json()
    assert body["snapshot_id"] == snapshot_id
    assert body["manifest"]["snapshot_id"] == snapshot_id
    assert body["manifest"]["model"]["dim"] == 64
    assert set(body["manifest"]["collections"]) == {"parts"}
    assert body["gates"]["passed"] is True
    assert body["loaded_at"].endswith("Z")


def test_livez_and_readyz(client: TestClient, snapshot_id: str) -> None:
    assert client.get("/livez").json() == {"status": "alive"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["snapshot_id"] == snapshot_id


def test_not_ready_before_the_lifespan_loads(make_app: MakeApp, store: Path) -> None:
    app = make_app(store)
    client = TestClient(app)  # not entered: the lifespan has not run, nothing is loaded

    assert client.get("/livez").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_ready"
    r = client.post("/v1/search", json={"query": "resistor"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_ready"


def test_metrics_after_a_search(client: TestClient, snapshot_id: str) -> None:
    search(client, query="resistor", mode="hybrid")
    client.get("/nope")
    text = client.get("/metrics").text

    assert 'snapsearch_request_duration_seconds_bucket{le="0.001",method="POST",' \
           'route="/v1/search",status="200"}' in text
    assert 'snapsearch_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'snapsearch_searches_total{match="good",mode="hybrid"}' in text
    assert 'snapsearch_errors_total{code="route_not_found",route="<unmatched>"}' in text
    info = [line for line in text.splitlines() if line.startswith("snapsearch_snapshot_info{")]
    assert len(info) == 1
    assert f'snapshot_id="{snapshot_id}"' in info[0]
    assert 'model_id="snapsearch/hashing-test-encoder"' in info[0]
    assert info[0].endswith(" 1.0")


def test_registries_are_per_app(make_app: MakeApp, store: Path) -> None:
    with TestClient(make_app(store)) as a, TestClient(make_app(store)) as b:
        search(a, query="resistor")
        assert "snapsearch_searches_total" in a.get("/metrics").text
        assert 'snapsearch_searches_total{match="good",mode="hybrid"}' not in b.get("/metrics").text


# -- request ids and the access log -------------------------------------------------------------


def test_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/livez", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"

    r = client.post("/v1/search", json={"query": ""}, headers={"x-request-id": "req-9"})
    assert r.headers["x-request-id"] == "req-9"
    assert r.json()["error"]["request_id"] == "req-9"


def test_request_id_is_generated(client: TestClient) -> None:
    a = client.get("/livez").headers["x-request-id"]
    bad = {"x-request-id": "bad id\twith spaces"}
    b = client.get("/livez", headers=bad).headers["x-request-id"]

    for rid in (a, b):
        assert len(rid) == 32 and int(rid, 16) >= 0
    assert a != b


def test_one_access_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture,
                                     snapshot_id: str) -> None:
    with caplog.at_level(logging.INFO, logger="snapsearch.access"):
        client.post("/v1/search", json={"query": "10k resistor", "mode": "lexical"},
                    headers={"x-request-id": "log-1"})
    lines = [r for r in caplog.records if r.name == "snapsearch.access"]

    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["request_id"] == "log-1"
    assert fields["method"] == "POST" and fields["path"] == "/v1/search"
    assert fields["status"] == 200 and fields["duration_ms"] >= 0
    assert fields["snapshot_id"] == snapshot_id
    assert fields["mode"] == "lexical" and fields["query_chars"] == len("10k resistor")


# -- refusing to start ---------------------------------------------------------------------------


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


# -- swapping snapshots --------------------------------------------------------------------------


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


# -- unexpected errors -------------------------------------------------------------------------


def test_unexpected_error_is_500_without_traceback(make_app: MakeApp, store: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(store), raise_server_exceptions=False) as client:
        loaded = holder_of(client).current
        assert loaded is not None

        def boom(_req: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(loaded.engine, "search", boom)
        r = client.post("/v1/search", json={"query": "resistor"}, headers={"x-request-id": "r-500"})

    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "internal" and err["request_id"] == "r-500" and err["field"] is None
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] == "r-500"
