"""BEIR-format evaluation: corpus → snapshot (text kind) → every judged query in every mode."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from eval.drivers.build import build_eval_snapshot, served_encoder
from eval.harness import MODES, run_query, score_runs
from snapsearch.format.manifest import FusionSettings
from snapsearch.format.model import Encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.settings import PipelineSettings


def load_beir(
    path: Path, split: str = "test"
) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """(queries by id, graded qrels) for the split; only judged queries are returned."""
    corpus, queries_file = path / "corpus.jsonl", path / "queries.jsonl"
    qrels_file = path / "qrels" / f"{split}.tsv"
    for f in (corpus, queries_file, qrels_file):
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing: {path} is not a BEIR directory "
                                    "(corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    qrels: dict[str, dict[str, float]] = {}
    with open(qrels_file, encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t")):
            if not row or (i == 0 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # header
            qid, did, score = row[0].strip(), row[1].strip(), float(row[2])
            qrels.setdefault(qid, {})[did] = score
    queries: dict[str, str] = {}
    with open(queries_file, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                if str(obj["_id"]) in qrels:
                    queries[str(obj["_id"])] = obj["text"]
    return queries, qrels


def evaluate_beir(
    path: Path, root: Path, encoder: Encoder, *, split: str = "test",
    fusion: FusionSettings | None = None, settings: PipelineSettings | None = None,
    log=print,  # type: ignore[no-untyped-def]
) -> dict[str, dict[str, float]]:
    """Every judged query in every mode; ``fusion`` overrides the manifest's (measurement only)."""
    queries, qrels = load_beir(path, split)
    snap_dir = build_eval_snapshot(path / "corpus.jsonl", root, "text", "docs", encoder, settings,
                                   log=log)
    with open_snapshot(snap_dir) as snap:
        query_encoder = served_encoder(snap)
        engine = SearchEngine(snap, query_encoder, fusion=fusion)
        for qid, text in list(queries.items())[:5]:  # warm-up (not measured)
            run_query(engine, qid, text, "hybrid", k=100)
        out: dict[str, dict[str, float]] = {}
        for mode in MODES:
            # a fresh cache: every mode encodes
            engine = SearchEngine(snap, query_encoder, fusion=fusion)
            runs = [run_query(engine, qid, text, mode, k=100) for qid, text in queries.items()]
            out[mode] = score_runs(runs, qrels)
        return out


def fusion_grid(
    path: Path, root: Path, encoder: Encoder, configs: list[FusionSettings], *,
    split: str = "train",
    log=print,  # type: ignore[no-untyped-def]
) -> list[tuple[FusionSettings, dict[str, float]]]:
    """Hybrid figures for each fusion setting on one split (query embeddings computed once)."""
    queries, qrels = load_beir(path, split)
    with open_snapshot(
        build_eval_snapshot(path / "corpus.jsonl", root, "text", "docs", encoder, log=log)
    ) as snap:
        engine = SearchEngine(snap, served_encoder(snap), query_cache=len(queries) + 10)
        out = []
        for cfg in configs:
            engine.fusion = cfg
            runs = [run_query(engine, qid, text, "hybrid", k=100) for qid, text in queries.items()]
            out.append((cfg, score_runs(runs, qrels)))
        return out
