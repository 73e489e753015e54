"""The peers benchmark's plumbing, with a fake peer (no model, no timing asserted): the worker
protocol in fresh processes, failures named, ratios to the best peer, targets and the tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eval.__main__ import app
from eval.drivers.peer_corpus import PeerCorpus, Prepared, embedded_texts, first_queries
from eval.drivers.peer_files import DOCS, VECTORS, read_lexical
from eval.drivers.peer_process import PeerError, run_worker
from eval.drivers.peer_report import (
    markdown_http,
    markdown_table,
    ratios,
    summarize,
    targets,
    text_table,
)
from eval.drivers.peers import System, choose, compare_corpus, missing_packages

FAKE = "tests.eval.drivers.fake_peer"
DOC_TEXTS = {"d1": "red apple pie", "d2": "green apple", "d3": "blue sky", "d4": "red sky"}
QUERIES = [("q1", "red apple"), ("q2", "blue sky"), ("q3", "nothing matches")]
GAINS = {"q1": {"d1": 1.0}, "q2": {"d3": 1.0}}


@pytest.fixture
def prepared(tmp_path: Path) -> Prepared:
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    (corpus_dir / DOCS).write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in DOC_TEXTS.items()))
    np.save(corpus_dir / VECTORS, np.eye(4, dtype=np.float32))
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in QUERIES))
    corpus = PeerCorpus("tiny", "text", "docs", tmp_path / "none.jsonl", QUERIES, GAINS)
    return Prepared(corpus, corpus_dir, queries, tmp_path / "no-snapshot", "0" * 64, 4)


def test_a_worker_builds_then_answers_in_a_fresh_process(prepared: Prepared,
                                                         tmp_path: Path) -> None:
    index, log = tmp_path / "index", tmp_path / "worker.log"
    built = run_worker(["build", FAKE, str(prepared.dir), str(index), "--model", "none"],
                       label="fake build", log_path=log)
    assert built.events["built"]["fake"] is True and (index / "index.json").is_file()
    run = run_worker(["measure", FAKE, str(index), str(prepared.queries), "--model", "none",
                      "--k", "2"], label="fake", log_path=log)
    ready, done = run.events["ready"], run.events["done"]
    assert ready["first_ids"] == ["d1", "d2"]
    assert 0 < run.at_s["ready"] <= run.at_s["done"]
    assert ready["rss_mb"] > 0 and set(ready["phases_s"]) == {
        "interpreter_and_import", "open", "first_query"}
    assert [r["id"] for r in done["runs"]] == ["q1", "q2", "q3"]
    assert done["runs"][1]["ids"] == ["d3", "d4"] and all(r["ms"] >= 0 for r in done["runs"])
    assert "a library chatting on stdout" in log.read_text()  # moved to stderr, not the protocol


def test_a_failing_worker_is_named_with_its_reason(prepared: Prepared, tmp_path: Path) -> None:
    index = tmp_path / "index"
    run_worker(["build", FAKE, str(prepared.dir), str(index), "--model", "none"],
               label="fake build", log_path=tmp_path / "b.log")
    with pytest.raises(PeerError, match="fake on tiny: RuntimeError: cannot open the fake index"):
        run_worker(["measure", FAKE, str(index), str(prepared.queries), "--model", "none"],
                   label="fake on tiny", log_path=tmp_path / "m.log",
                   env={"FAKE_PEER_FAIL": "open"})
    with pytest.raises(PeerError, match="answers hybrid, vector, not 'lexical'"):
        run_worker(["measure", FAKE, str(index), str(prepared.queries), "--model", "none",
                    "--mode", "lexical"], label="fake", log_path=tmp_path / "m.log")
    with pytest.raises(PeerError, match="unknown peer system 'nosuch'"):
        run_worker(["measure", "nosuch", str(index), str(prepared.queries), "--model", "none"],
                   label="nosuch", log_path=tmp_path / "m.log")


def test_a_worker_past_its_deadline_is_killed(prepared: Prepared, tmp_path: Path) -> None:
    with pytest.raises(PeerError, match="killed past its deadline"):
        run_worker(["build", FAKE, str(prepared.dir), str(tmp_path / "i"), "--model", "none"],
                   label="slow", log_path=tmp_path / "b.log", timeout_s=0.01)


def _row(mode: str, cold: float, p50: float, ndcg: float, rss: float = 500.0) -> dict[str, object]:
    return {"mode": mode, "cold_start_s": cold, "p50_ms": p50, "p95_ms": p50 * 2,
            "rss_ready_mb": rss, "index_mb": 10.0, "ndcg@10": ndcg}


def test_ratios_are_to_the_best_peer_and_latency_only_within_a_mode() -> None:
    rows = {
        "snapsearch": _row("hybrid", 1.0, 14.0, 0.74, rss=200.0),
        "snapsearch-vector": _row("vector", 1.0, 10.0, 0.64),
        "txtai": _row("hybrid", 8.0, 20.0, 0.70),
        "lancedb": _row("hybrid", 9.0, 30.0, 0.71),
        "chroma": _row("vector", 5.0, 8.0, 0.65, rss=400.0),
    }
    r = ratios(rows)
    assert set(r) == {"snapsearch", "snapsearch-vector"}
    assert r["snapsearch"]["cold_start_s"] == {"ratio": 0.2, "peer": "chroma", "peer_value": 5.0}
    assert r["snapsearch"]["p50_ms"] == {"ratio": 0.7, "peer": "txtai", "peer_value": 20.0}
    assert r["snapsearch"]["ndcg@10"]["peer"] == "lancedb"  # higher is better
    assert r["snapsearch"]["rss_ready_mb"]["ratio"] == 0.5
    assert r["snapsearch-vector"]["p50_ms"] == {"ratio": 1.25, "peer": "chroma", "peer_value": 8.0}
    alone = ratios({"snapsearch": _row("lexical", 1.0, 2.0, 0.6), "chroma": rows["chroma"]})
    assert alone["snapsearch"]["p50_ms"] is None and alone["snapsearch"]["cold_start_s"]

    corpora = {"scifact": {"systems": rows, "ratios": r},
               "parts-25k": {"systems": rows, "ratios": r}}
    got = {t["target"].split(",")[0] + " " + str(t["limit"]): t["met"] for t in targets(corpora)}
    assert got == {"cold start (spawn -> first answer) 0.3": True, "cold start 1.5": True,
                   "RSS when ready 250.0": True, "in-process hybrid p50 (uncached; the suite's "
                   "queries without filters) 6.0": False, "in-process hybrid p50 0.7": True}
    assert targets({}) == []
    http = {"cold_start_s": 0.9, "rss_ready_mb": 300.0, "cold_start_s_each": [0.9],
            "levels": {"8": {"requests": 3, "errors": 0, "p50_ms": 5.0, "p95_ms": 9.0,
                             "qps": 100.0, "rss_after_mb": 310.0}}}
    served = targets({"parts-25k": {"systems": rows, "ratios": r, "http": http}})
    assert [(t["value"], t["met"]) for t in served if "serve" in t["target"]] == [
        (0.9, True), (300.0, False)]
    assert "| 8 | 3 | 0 | 5.0 | 9.0 | 100.0 | 310 |" in markdown_http({"http": http})
    assert "no HTTP figures (refused)" in markdown_http({"http": {"error": "refused"}})
    assert "no HTTP figures: refused" in text_table({"systems": rows, "http": {"error": "refused"}})

    corpus = {"systems": rows, "ratios": r}
    assert "0.20x" in text_table(corpus) and "| **snapsearch** | hybrid |" in markdown_table(corpus)


def test_summarize_takes_medians_over_fresh_processes_and_scores_judged_queries() -> None:
    def m(cold: float, ms: float, ids1: list[str]) -> dict[str, object]:
        return {"cold_start_s": cold, "rss_mb": 100.0, "rss_peak_mb": 120.0, "load_1min": 1.0,
                "phases_s": {"open": cold / 2},
                "runs": [{"id": "q1", "ids": ids1, "ms": ms}, {"id": "q2", "ids": ["d3"], "ms": ms},
                         {"id": "q3", "ids": [], "ms": ms}]}

    row = summarize("hybrid", [m(3.0, 5.0, ["d1"]), m(1.0, 7.0, ["d1"]), m(2.0, 9.0, ["d2"])],
                    GAINS, index_bytes=2_500_000)
    assert row["cold_start_s"] == 2.0 and row["p50_ms"] == 7.0 and row["index_mb"] == 2.5
    assert row["ndcg@10"] == 1.0 and row["judged"] == 2 and row["queries"] == 3
    assert row["ranking_stable"] is False and row["phases_s"] == {"open": 1.0}


def test_compare_corpus_with_fake_peers_end_to_end(prepared: Prepared, tmp_path: Path) -> None:
    systems = [System("snapsearch", FAKE, "hybrid"), System("other", FAKE, "vector")]
    out = compare_corpus(prepared, systems, tmp_path / "work", Path("none"), repeats=2,
                         http_levels=(), k=10, log=lambda _: None)
    assert set(out["systems"]) == {"snapsearch", "other"} and "http" not in out
    row = out["systems"]["snapsearch"]
    assert row["repeats"] == 2 and row["ndcg@10"] == 1.0 and row["ranking_stable"]
    assert row["index_bytes"] > 0 and len(row["cold_start_s_each"]) == 2
    assert out["ratios"]["snapsearch"]["cold_start_s"]["peer"] == "other"
    assert out["ratios"]["snapsearch"]["p50_ms"] is None  # no hybrid peer
    assert out["builds"][FAKE]["fake"] is True  # what the build reported, kept with the index
    again = compare_corpus(prepared, systems[:1], tmp_path / "work", Path("none"), repeats=1,
                           http_levels=(), k=10, log=lambda _: None)
    assert again["builds"][FAKE]["fake"] is True  # reused: read back from .built.json


def test_max_queries_keeps_the_first_queries_and_their_judgements() -> None:
    corpus = PeerCorpus("tiny", "text", "docs", Path("none"), QUERIES, GAINS, note="n")
    two = first_queries(corpus, 1)
    assert two.queries == QUERIES[:1] and two.gains == {"q1": GAINS["q1"]}
    assert "first 1 queries" in two.note
    assert first_queries(corpus, None) is corpus and first_queries(corpus, 9) is corpus


def test_choosing_systems_and_missing_packages() -> None:
    assert [s.name for s in choose(["txtai", "snapsearch"])] == ["txtai", "snapsearch"]
    with pytest.raises(ValueError, match="unknown system 'faiss'"):
        choose(["faiss"])
    assert missing_packages([System("x", "x", "hybrid", "no-such-dist-xyz")]) == [
        "no-such-dist-xyz"]
    assert missing_packages([System("snapsearch", "snapsearch", "hybrid")]) == []


def test_the_cli_refuses_unknown_corpora_and_systems() -> None:
    result = CliRunner().invoke(app, ["peers", "--corpus", "msmarco"])
    assert result.exit_code == 2 and "unknown corpus 'msmarco'" in result.output
    result = CliRunner().invoke(app, ["peers", "--system", "faiss"])
    assert result.exit_code == 2 and "unknown system 'faiss'" in result.output


def test_the_export_gives_peers_the_words_snapsearch_bm25_indexes(tmp_path: Path) -> None:
    src = tmp_path / "corpus.jsonl"
    src.write_text(json.dumps({"_id": "7", "title": "Cells", "text": "Stem cells divide."}) + "\n"
                   + json.dumps({"_id": "8", "title": "", "text": "Only text."}) + "\n"
                   + json.dumps({"_id": "7", "title": "dup", "text": "ignored"}) + "\n")
    got = embedded_texts(src, "text")
    assert set(got) == {"7", "8"} and got["7"][1] == "Cells Stem cells divide."
    assert got["8"] == ("Only text.", "Only text.")
    (tmp_path / DOCS).write_text(json.dumps({"id": "a", "text": "emb", "lexical": "C1002 emb"})
                                 + "\n" + json.dumps({"id": "b", "text": "old export"}) + "\n")
    assert read_lexical(tmp_path) == ["C1002 emb", "old export"]
