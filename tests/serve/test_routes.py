"""The endpoints, in-process (TestClient runs the lifespan) over a snapshot built by the real
writer."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.serve.conftest import KNOWN_ID, search

# -- search --------------------------------------------------------------------------------


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


# -- records and introspection -------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [('W/"{sid}"', 304), ('"other", "{sid}"', 304), ("*", 304), ('"other"', 200)],
)
def test_snapshot_etag_forms(client: TestClient, snapshot_id: str, if_none_match: str,
                             status: int) -> None:
    r = client.get("/v1/snapshot", headers={"if-none-match": if_none_match.format(sid=snapshot_id)})

    assert r.status_code == status
    assert r.headers["etag"] == f'"{snapshot_id}"'
