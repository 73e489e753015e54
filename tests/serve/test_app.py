"""The app factory and its lifespan: nothing is loaded before it runs, one registry per app."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from tests.serve.conftest import MakeApp, holder_of, search

# -- the factory and the lifespan ----------------------------------------------------------


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


def test_registries_are_per_app(make_app: MakeApp, store: Path) -> None:
    with TestClient(make_app(store)) as a, TestClient(make_app(store)) as b:
        search(a, query="resistor")
        assert "snapsearch_searches_total" in a.get("/metrics").text
        assert 'snapsearch_searches_total{match="good",mode="hybrid"}' not in b.get("/metrics").text


def test_the_lifespan_closes_the_snapshot(make_app: MakeApp, store: Path) -> None:
    with TestClient(make_app(store)) as client:
        holder = holder_of(client)
        loaded = holder.current
        assert loaded is not None and not loaded.snapshot.closed

    assert loaded.snapshot.closed
    assert holder.current is None
