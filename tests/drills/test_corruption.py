"""The corruption drill, fast version (issue 11): a sampled sweep over a small hashing-encoder
snapshot — every byte of the manifest and its seal (a stride over the gate report), sampled
bytes of each data file, truncation, deletion, extra files, edited values — each refused by
verify (naming the file), by the server before it is ready, and by rollback. The full sweep is
bench/corruption_drill.py (figures in docs/drills.md)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from eval.drivers.corruption import (
    CHECKS,
    DrillStore,
    build_drill_store,
    damages,
    run_drill,
    summarize,
)
from serve.app import create_app
from snapsearch.format import layout, links
from snapsearch.format.errors import SnapshotError
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import ServeSettings

SWEEP = 60  # bytes of the manifest, its seal and the report (every byte: the bench; the
# in-memory sweep of every byte is tests/snapsearch/format/test_manifest.py and test_gates.py)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DrillStore:
    return build_drill_store(tmp_path_factory.mktemp("drill"), records=120)


@pytest.fixture(scope="module")
def outcomes(store: DrillStore):  # type: ignore[no-untyped-def]
    return run_drill(store, data_samples=6, sweep_samples=SWEEP)


def test_the_drill_covers_every_file_and_kind_of_damage(store: DrillStore, outcomes) -> None:
    kinds = {o.kind for o in outcomes}
    assert kinds == {"flip", "truncate", "delete", "extra", "edit"}
    targets = {o.target for o in outcomes}
    listed = set(json.loads((store.target / layout.MANIFEST).read_text())["files"])
    assert {layout.MANIFEST, layout.SEAL, *listed} <= targets
    assert any(t.startswith(layout.GATES_DIR) for t in targets)
    flips = [o for o in outcomes if o.kind == "flip" and o.target == layout.MANIFEST]
    assert len({o.detail.split(":")[0] for o in flips}) == SWEEP


@pytest.mark.parametrize("door", ["verify", "serve"])
def test_every_damage_is_refused(outcomes, door: str) -> None:
    missed = [(o.kind, o.target, o.detail) for o in outcomes if not o.refused[door]]
    assert missed == [], f"{len(missed)} of {len(outcomes)} not refused by {door}"


def test_verify_names_the_damaged_file(outcomes) -> None:
    unnamed = [(o.kind, o.target, o.messages["verify"]) for o in outcomes
               if o.refused["verify"] and not o.named]
    assert unnamed == []


def test_rollback_refuses_every_damage(outcomes) -> None:
    missed = [(o.kind, o.target, o.detail) for o in outcomes if not o.refused["rollback"]]
    assert missed == []


def test_rollback_refuses_every_damage_to_the_manifest_and_the_report(outcomes) -> None:
    """What rollback checks on this branch: a passing report bound to the manifest's bytes."""
    mine = [o for o in outcomes
            if o.target == layout.MANIFEST or o.target.startswith(layout.GATES_DIR)]
    assert mine and all(o.refused["rollback"] for o in mine)


def test_the_summary_counts_every_door(outcomes) -> None:
    s = summarize(outcomes, 1.0)
    assert s["cases"] == len(outcomes)
    assert set(s["refused_pct"]) == set(CHECKS)
    assert s["refused_pct"]["verify"] == s["refused_pct"]["serve"] == 100.0
    assert sum(r["cases"] for r in s["rows"]) == len(outcomes)


def test_the_server_refuses_before_ready(store: DrillStore) -> None:
    """Start-up itself (not just the holder): a damaged current never becomes ready."""
    links.move_current(store.root, store.current, store.target.name)
    try:
        for kind, _target, _detail, undo in damages(store, data_samples=1, sweep_samples=1):
            if kind not in ("delete", "edit"):
                undo()
                continue
            try:
                settings = ServeSettings(root=store.root, reload_poll_s=0)
                app = create_app(settings, encoder_factory=lambda: HashingEncoder(64))
                with pytest.raises(SnapshotError), TestClient(app):
                    pass
            finally:
                undo()
    finally:
        links.move_current(store.root, store.target.name, store.current)
