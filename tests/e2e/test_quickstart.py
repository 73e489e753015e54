"""End to end with the real pinned model: the whole Dagster job on the bundled sample into a temp
store, then searches through the server in-process. This is what `make quickstart` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serve.app import create_app
from snapsearch.format.links import current_id
from snapsearch.settings import ServeSettings

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def store(real_store: Path) -> Path:
    return real_store  # tests/e2e/conftest.py: the whole job with the defaults


@pytest.fixture(scope="module")
def client(store: Path):
    app = create_app(ServeSettings(root=store))  # the snapshot's ONNX query encoder
    with TestClient(app) as c:
        yield c


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [h["id"] for h in resp.json()["hits"]]


def test_server_is_ready_on_the_published_snapshot(client, store):
    r = client.get("/readyz")
    assert r.status_code == 200
    snap = client.get("/v1/snapshot").json()
    assert current_id(store) in r.text
    pin = snap["manifest"]["model"]
    assert pin["model_id"] == "sentence-transformers/all-MiniLM-L6-v2" and pin["dim"] == 384
    assert snap["gates"]["passed"] is True
    assert pin["query_encoder"] == "onnx" and pin["onnx"]["opset"] == 18
    assert pin["onnx"]["precision"] == "fp32"


def test_the_onnx_query_encoder_reproduces_the_model(client):
    gate = client.get("/v1/snapshot").json()["gates"]["gates"]["query_encoder"]
    assert gate["passed"], gate["description"]
    assert gate["metrics"]["min_cosine"] >= 0.9999
    assert gate["metrics"]["ndcg@10.hybrid.gap"] <= 0.002


def test_parametric_need_finds_the_right_part(client):
    hits = client.post(
        "/v1/search", json={"query": "10k 0402 resistor 1%", "limit": 5}
    ).json()["hits"]
    assert hits[0]["record"]["package"] == "0402"
    assert "C25744" in [h["id"] for h in hits]
    assert all(0.0 <= h["score"] <= 1.0 for h in hits)


def test_exact_ids_and_mpns_come_first(client):
    assert _ids(client.post("/v1/search", json={"query": "C25744"}))[0] == "C25744"
    assert _ids(client.post("/v1/search", json={"query": "AMS1117-3.3"}))[0] == "C6186"


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_every_mode_answers_semantically(client, mode):
    r = client.post("/v1/search", json={"query": "usb type c connector", "mode": mode, "limit": 10})
    hits = r.json()["hits"]
    assert hits and any(h["record"]["category"] == "Connectors" for h in hits[:3])


def test_filters_are_hard(client):
    body = {"query": "capacitor", "limit": 20,
            "filters": {"package": "0603", "library_type": "Basic", "in_stock": True}}
    hits = client.post("/v1/search", json=body).json()["hits"]
    assert hits
    assert all(h["record"]["package"] == "0603" and h["record"]["library_type"] == "Basic"
               and h["record"]["stock"] > 0 for h in hits)
