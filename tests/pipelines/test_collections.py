"""The pipeline builds every collection the settings name: a parts collection and a text
collection are fetched, built into one snapshot, checked, published, served and searched, each
on its own (fake encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipelines.job import run_job
from serve.app import create_app
from snapsearch.format import layout
from snapsearch.format.gates import read_gate_report
from snapsearch.format.links import current_id
from snapsearch.format.manifest import read_manifest
from snapsearch.settings import Collection, PipelineSettings, ServeSettings, load_settings
from tests.conftest import write_jsonl

DOCS = [
    {"_id": "d1", "title": "Decoupling capacitors",
     "text": "Place a 100nF ceramic capacitor next to every power pin."},
    {"_id": "d2", "title": "Pull-up resistors",
     "text": "An open-drain bus needs pull-up resistors, often 4.7k for I2C."},
    {"_id": "d3", "title": "Crystal load capacitance",
     "text": "Choose load capacitors from the crystal's rated load capacitance."},
    {"_id": "d4", "title": "Thermal relief",
     "text": "Thermal relief spokes make hand soldering of ground pads possible."},
    {"_id": "d5", "title": "LDO dropout",
     "text": "A low dropout regulator such as the AMS1117 needs input above output plus dropout."},
]
SUITE = [{"query": "C25744", "expected": ["C25744"]},
         {"query": "AMS1117-3.3", "expected": ["C6186"]}]


@pytest.fixture
def two(tmp_path: Path, parts_file: Path) -> PipelineSettings:
    suite = tmp_path / "suite.jsonl"
    suite.write_text("".join(json.dumps(q) + "\n" for q in SUITE))
    docs = write_jsonl(tmp_path / "corpus.jsonl", DOCS)
    return PipelineSettings(
        root=tmp_path / "store", encoder="hashing", suite=suite,
        collections=[Collection(name="parts", kind="parts", source=str(parts_file)),
                     Collection(name="notes", kind="text", source=str(docs))],
    )


def test_two_collections_are_built_published_served_and_searched(two: PipelineSettings):
    outcome = run_job(two)
    assert outcome.published and current_id(two.root) == outcome.current
    snap_dir = two.root / outcome.current
    manifest = read_manifest(snap_dir)
    assert {n: (c.kind, c.records) for n, c in manifest.collections.items()} == {
        "parts": ("parts", 301), "notes": ("text", len(DOCS)),
    }
    assert manifest.settings["collections"] == [
        {"name": "parts", "kind": "parts"}, {"name": "notes", "kind": "text"}
    ]
    report = read_gate_report(snap_dir)
    assert report is not None and report.passed
    assert set(report.gates["ann_recall"].metrics) >= {"recall@10.parts", "recall@10.notes"}
    # the quality suite ran on the first collection, parts
    assert report.gates["quality"].metrics["hit@1"] == 1.0

    settings = ServeSettings(root=two.root, reload_poll_s=0)
    with TestClient(create_app(settings)) as client:  # the snapshot's own (hashing) encoder
        notes = client.post("/v1/search", json={"query": "pull-up resistors for I2C",
                                                "collection": "notes", "limit": 3}).json()
        assert notes["collection"] == "notes" and notes["hits"][0]["id"] == "d2"
        assert {h["id"] for h in notes["hits"]} <= {d["_id"] for d in DOCS}
        parts = client.post("/v1/search", json={"query": "AMS1117-3.3", "collection": "parts"})
        assert parts.json()["collection"] == "parts" and parts.json()["hits"][0]["id"] == "C6186"
        record = client.get("/v1/records/d5", params={"collection": "notes"})
        assert record.status_code == 200 and "AMS1117" in json.dumps(record.json())
        assert client.get("/v1/records/d5", params={"collection": "parts"}).status_code == 404


def test_unchanged_inputs_cover_every_collection(two: PipelineSettings, tmp_path: Path):
    first = run_job(two)
    again = run_job(two)
    assert not again.published and again.current == first.current
    # a change in the second collection alone is a new snapshot
    write_jsonl(Path(two.collections[1].source), DOCS[:-1])
    changed = run_job(two)
    assert changed.published and changed.current != first.current
    assert read_manifest(two.root / changed.current).collections["notes"].records == len(DOCS) - 1
    assert len(layout.list_snapshot_dirs(two.root)) == 2


def test_collections_from_the_environment(two: PipelineSettings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SNAPSEARCH_COLLECTIONS", json.dumps(
        [c.model_dump() for c in two.collections]))
    monkeypatch.setenv("SNAPSEARCH_ROOT", str(two.root))
    monkeypatch.setenv("SNAPSEARCH_ENCODER", "hashing")
    monkeypatch.setenv("SNAPSEARCH_SUITE", "none")
    outcome = run_job()  # what `dagster dev` and `snapsearch run` read: the environment
    assert outcome.published
    assert set(read_manifest(two.root / outcome.current).collections) == {"parts", "notes"}
    assert load_settings(PipelineSettings).build_collections() == two.collections
