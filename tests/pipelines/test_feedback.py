"""Feedback that shapes the next build: the log read as a Dagster asset (upstream of
``snapshot``), votes -> bounded priors baked into the snapshot and recorded in its manifest,
ranking moved by them, the quality gate refusing priors that lower the suite's figures, and a
build with no feedback byte-identical to one without the feature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey

from pipelines.feedback.priors import (
    RECORD_SCALE,
    FeedbackVotes,
    aggregate,
    compute_priors,
    votes_of,
)
from pipelines.fetch import fetch_source
from pipelines.job import run_job
from pipelines.transform.assets import snapshot as snapshot_asset
from pipelines.transform.build import BuildOptions
from snapsearch.format import layout
from snapsearch.format.errors import GateError
from snapsearch.format.feedback import FeedbackEvent, append_event, read_log
from snapsearch.format.gates import read_gate_report
from snapsearch.format.hashing import sha256_file, sha256_text
from snapsearch.format.links import current_id
from snapsearch.format.manifest import SCHEMA_VERSION, read_manifest
from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import get_kind
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import SearchRequest
from snapsearch.settings import Collection, PipelineSettings
from tests.multistore import build_two, sources


def ev(session: str, rid: str, outcome: str = "positive", weight: float = 1.0,
       collection: str = "parts") -> FeedbackEvent:
    return FeedbackEvent(session_id=session, collection=collection, id=rid,
                         outcome=outcome, weight=weight)  # type: ignore[arg-type]


def votes(*events: FeedbackEvent) -> FeedbackVotes:
    return FeedbackVotes("f" * 64, 100, len(events), 0, aggregate(events))


# -- votes and priors ------------------------------------------------------------------------------


def test_one_vote_per_session_and_record_the_latest() -> None:
    v = aggregate([ev("a", "C1"), ev("a", "C1"), ev("a", "C1", "negative", 2.0), ev("b", "C1")])
    assert v == {("parts", "C1"): {"a": -2.0, "b": 1.0}}


def test_priors_are_bounded_and_only_for_records_of_the_snapshot() -> None:
    many = [ev(f"s{i}", "C1") for i in range(1000)] + [ev("x", "C2", "negative"),
                                                       ev("y", "C9")]
    p = compute_priors(votes(*many), {"parts": {"C1", "C2"}})
    assert 0.99 < p.records["parts"]["C1"] <= 1.0
    assert p.records["parts"]["C2"] == pytest.approx(-0.32151, abs=1e-4)  # tanh(-1/3)
    assert "C9" not in p.records["parts"] and p.used == 1001
    assert -1.0 <= p.collections["parts"] <= 1.0
    assert RECORD_SCALE == 3.0


def test_votes_cancelling_out_give_no_prior() -> None:
    p = compute_priors(votes(ev("a", "C1"), ev("b", "C1", "negative")), {"parts": {"C1"}})
    assert p.records == {} and p.used == 2 and p.collections == {"parts": 0.0}


# -- the build ----------------------------------------------------------------------------------


def _files(snapshot_dir: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(snapshot_dir.iterdir())}


def test_a_build_with_no_feedback_is_byte_identical_to_one_without(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    without = build_two(tmp_path / "a", *srcs)  # the feature not used at all
    empty_log = votes_of(read_log(tmp_path / "b"))  # the asset's output when there is no log
    assert empty_log.empty
    with_empty = build_two(tmp_path / "b", *srcs, feedback=empty_log, options=BuildOptions())
    assert with_empty.snapshot_id == without.snapshot_id
    assert _files(with_empty.path) == _files(without.path)
    assert layout.PRIORS not in _files(without.path)
    manifest = json.loads((without.path / layout.MANIFEST).read_text())
    assert set(manifest) == {  # the manifest's fields before the feature, no more
        "schema_version", "snapshot_id", "built_at", "builder_version", "inputs_digest",
        "sources", "model", "hnsw", "fusion", "collections", "tables", "files", "settings"}
    # the inputs digest (so the snapshot id) is the one the build computed before the feature
    options = BuildOptions()
    before = sha256_text(json.dumps({
        "format": SCHEMA_VERSION,
        "collections": [
            {"name": n, "kind": k, "kind_version": get_kind(k).version,
             "raw": fetch_source(str(src), tmp_path / "b").digest}
            for n, k, src in (("parts", "parts", srcs[0]), ("notes", "text", srcs[1]))],
        "hnsw": options.hnsw.model_dump(), "fusion": options.fusion.model_dump(),
        "max_reject_rate": options.max_reject_rate,
        "limits": [options.limits.max_record_bytes, options.limits.max_field_chars],
        "model": HashingEncoder(64).pin.fingerprint,
    }, sort_keys=True))
    assert without.manifest.inputs_digest == with_empty.manifest.inputs_digest == before


def test_feedback_is_baked_into_the_snapshot(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    fb = votes(ev("a", "C25744"), ev("b", "C25744"), ev("a", "n2", collection="notes"),
               ev("c", "C0"))
    result = build_two(tmp_path / "store", *srcs, feedback=fb)
    m = result.manifest
    assert m.priors is not None
    assert (m.priors.events, m.priors.events_used, m.priors.log_sha256) == (4, 3, "f" * 64)
    assert m.priors.records == {"notes": 1, "parts": 1} and m.priors.max_boost == 0.05
    assert layout.PRIORS in m.files
    plain = build_two(tmp_path / "plain", *srcs)
    assert plain.snapshot_id != result.snapshot_id  # the feedback is an input


def test_priors_move_ranking_within_a_tier(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    plain = build_two(tmp_path / "a", *srcs)
    query = SearchRequest(query="0402 resistor", collection="parts", limit=20)
    with open_snapshot(plain.path) as snap:
        hits = SearchEngine(snap, HashingEncoder(64)).search(query).hits
    before = [h.id for h in hits]
    target = next(h.id for a, h in zip(hits[2:], hits[3:], strict=False)
                  if a.score - h.score < 0.03)
    fb = votes(*[ev(f"s{i}", target) for i in range(3)])
    boosted = build_two(tmp_path / "b", *srcs, feedback=fb)
    with open_snapshot(boosted.path) as snap:
        resp = SearchEngine(snap, HashingEncoder(64)).search(query)
        off = SearchEngine(snap, HashingEncoder(64), priors=False).search(query)
    after = [h.id for h in resp.hits]
    assert after.index(target) < before.index(target)
    hit = resp.hits[after.index(target)]
    assert any(r.startswith("feedback +0.03") for r in hit.reasons)
    assert [h.id for h in off.hits] == before  # priors=False ranks as without feedback


# -- the Dagster job: lineage, round trip, the gate ---------------------------------------------


def test_the_feedback_log_is_an_asset_upstream_of_snapshot() -> None:
    assert snapshot_asset.keys_by_input_name["feedback_log"] == AssetKey("feedback_log")


def _settings(tmp_path: Path, suite: list[dict[str, object]], **kw: object) -> PipelineSettings:
    parts, notes = sources(tmp_path)
    suite_file = tmp_path / "suite.jsonl"
    suite_file.write_text("".join(json.dumps(q) + "\n" for q in suite))
    return PipelineSettings(
        root=tmp_path / "store", encoder="hashing", suite=suite_file,
        collections=[Collection(name="parts", kind="parts", source=str(parts)),
                     Collection(name="notes", kind="text", source=str(notes))], **kw)


def test_round_trip_events_build_ranking(tmp_path: Path) -> None:
    s = _settings(tmp_path, [{"query": "C25744", "expected": ["C25744"]}])
    first = run_job(s)
    query = SearchRequest(query="0402 resistor", collection="parts", limit=20)
    with open_snapshot(s.root / first.current) as snap:
        hits = SearchEngine(snap, HashingEncoder(64)).search(query).hits
    before = [h.id for h in hits]
    # a record close behind the one above it (within a catalogue-feature tier)
    target = next(h.id for a, h in zip(hits[2:], hits[3:], strict=False)
                  if a.score - h.score < 0.03)
    for i in range(3):
        append_event(s.root, ev(f"s{i}", target))
    second = run_job(s)
    assert second.published
    second_id = current_id(s.root)
    assert second_id != first.current
    m = read_manifest(s.root / second_id)
    assert m.priors is not None and m.priors.events == 3 and m.priors.events_used == 3
    assert m.priors.log_sha256 == read_log(s.root).sha256
    with open_snapshot(s.root / second_id) as snap:
        after = [h.id for h in SearchEngine(snap, HashingEncoder(64)).search(query).hits]
    assert after.index(target) < before.index(target)
    report = read_gate_report(s.root / second_id)
    assert report is not None and report.gates["quality"].passed
    assert "without_priors.hit@1" in report.gates["quality"].metrics
    # nothing new: the next run builds nothing
    assert not run_job(s).published


def test_the_quality_gate_refuses_priors_that_lower_the_suite(tmp_path: Path) -> None:
    srcs = sources(tmp_path)
    plain = build_two(tmp_path / "probe", *srcs)
    query = SearchRequest(query="0402 resistor", collection="parts", limit=20)
    with open_snapshot(plain.path) as snap:
        before = [h.id for h in SearchEngine(snap, HashingEncoder(64)).search(query).hits]
    s = _settings(tmp_path, [{"query": "0402 resistor", "expected": [before[0]]}],
                  prior_boost=0.2)
    s = s.model_copy(update={"gates": s.gates.model_copy(update={
        "hit1_min": 0.0, "hit10_min": 0.0, "mrr_min": 0.0, "regression_tolerance": 1.0})})
    first = run_job(s)
    for i in range(5):
        append_event(s.root, ev(f"s{i}", before[0], "negative", 5.0))
        append_event(s.root, ev(f"s{i}", before[1], "positive", 5.0))
    with pytest.raises(GateError, match="feedback priors lower"):
        run_job(s)
    assert current_id(s.root) == first.current  # nothing published
