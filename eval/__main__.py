"""`python -m eval`: retrieval quality and speed figures, and the committed query suites.

    python -m eval beir PATH [--json OUT]                  BEIR directory (corpus, queries, qrels)
    python -m eval suite SOURCE_OR_SNAPSHOT SUITE.jsonl [--json OUT]
    python -m eval fusion PATH                             fusion grid on a BEIR train split
    python -m eval bench [--json OUT]                      build, rebuild, latency, cold start, RSS
    python -m eval serving --store NAME=PATH [--json OUT]  ONNX vs torch encode, cold start, RSS
    python -m eval suites [--check] [--full PATH] [--report]   write (or check) eval/suites/*.jsonl
    python -m eval speed SOURCE_OR_SNAPSHOT SUITE.jsonl [--json OUT]   engine cost beside the encode
    python -m eval cutover [--cutovers 100] [--close-grace 0] [--json OUT]   the cutover drill
    python -m eval workers STORE SUITE.jsonl [--workers 1,2,3] [--json OUT]   memory, QPS per N
    python -m eval collections [--parts P] [--beir P] [--json OUT]   two collections, one answer
    python -m eval feedback [--query TEXT] [--json OUT]   feedback: events -> build -> ranking
    python -m eval peers [--corpus C] [--system S] [--max-queries N] [--json OUT]
                                                           vs txtai, LanceDB, Chroma
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate snapsearch retrieval.")
DEFAULT_ROOT = Path(".cache") / "eval-store"
COLUMNS = ("ndcg@10", "mrr@10", "recall@100", "hit@1", "hit@10", "compliance", "text_compliance",
           "filter_compliance", "p50_ms", "p95_ms")


def _encoder():  # type: ignore[no-untyped-def]
    """The encoder the settings name (SNAPSEARCH_ENCODER: the pinned model by default)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pipelines.transform.encoder import settings_encoder
    from snapsearch.settings import PipelineSettings, SettingsError, load_settings

    try:
        return settings_encoder(load_settings(PipelineSettings))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def print_table(title: str, figures: dict[str, dict[str, Any]]) -> None:
    cols = [c for c in COLUMNS if any(c in f for f in figures.values())]
    print(f"\n{title}")
    labels = {"text_compliance": "text_compl", "filter_compliance": "filter_compl"}
    print(f"{'mode':<10}" + "".join(f"{labels.get(c, c):>13}" for c in cols))
    for mode, f in figures.items():
        print(f"{mode:<10}" + "".join(
            f"{f[c]:>13.3f}" if isinstance(f.get(c), float) else f"{'-':>13}" for c in cols))


def _fusion(spec: str | None):  # type: ignore[no-untyped-def]
    """'method=convex,normalization=zscore,alpha=0.5' -> FusionSettings (None: the manifest's)."""
    if not spec:
        return None
    from pydantic import ValidationError

    from snapsearch.format.manifest import FusionSettings

    try:
        fields = dict(kv.split("=", 1) for kv in spec.split(","))
        return FusionSettings.model_validate(fields)
    except (ValueError, ValidationError) as exc:
        print(f"error: --fusion {spec!r} is not valid ({exc}); write it as "
              "'method=convex,normalization=zscore,alpha=0.5' or 'method=rrf,rrf_k=60'",
              file=sys.stderr)
        raise typer.Exit(2) from None


TokenizerOpt = Annotated[
    str | None,
    typer.Option("--tokenizer", help="Build with this FTS5 tokenizer instead of the kind's, "
                 "e.g. 'unicode61' or 'trigram' (recorded in the manifest)"),
]


def _settings(tokenizer: str | None):  # type: ignore[no-untyped-def]
    from snapsearch.settings import PipelineSettings, SettingsError, load_settings

    try:
        return load_settings(PipelineSettings, {"tokenizer": tokenizer}, flag=lambda f: f"--{f}")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


FusionOpt = Annotated[
    str | None,
    typer.Option("--fusion", help="Override the snapshot's fusion to measure another, e.g. "
                 "'method=convex,normalization=minmax,alpha=0.5' or 'method=rrf,rrf_k=60'"),
]


def _write(out: Path | None, data: Any) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")


@app.command()
def beir(
    path: Annotated[Path, typer.Argument(help="BEIR directory")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures as JSON")] = None,
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshot + embedding cache")
    ] = DEFAULT_ROOT,
    fusion_spec: FusionOpt = None,
    tokenizer: TokenizerOpt = None,
) -> None:
    """nDCG@10, MRR@10, recall@100, hit@1, hit@10, p50/p95 per mode on a BEIR dataset."""
    from .drivers.beir import evaluate_beir

    override, settings = _fusion(fusion_spec), _settings(tokenizer)
    try:
        figures = evaluate_beir(path, root, _encoder(), split=split, fusion=override,
                                settings=settings, log=lambda m: print(m, file=sys.stderr))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print_table(f"{path} ({split}, {int(figures['hybrid']['queries'])} queries)", figures)
    _write(json_out, figures)


@app.command()
def fusion(
    path: Annotated[Path, typer.Argument(help="BEIR directory")],
    split: Annotated[
        str, typer.Option(help="qrels split to tune on (never the one you report)")
    ] = "train",
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshot + embedding cache")
    ] = DEFAULT_ROOT,
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """Hybrid nDCG@10 for a grid of fusion methods and constants (to choose the default)."""
    from snapsearch.format.manifest import FusionSettings

    from .drivers.beir import fusion_grid

    configs = [FusionSettings(method="convex", alpha=a / 10, normalization=norm)
               for norm in ("minmax", "zscore") for a in range(2, 9)]
    configs += [FusionSettings(method="rrf", rrf_k=k) for k in (10, 30, 60)]
    rows = fusion_grid(path, root, _encoder(), configs, split=split,
                       log=lambda m: print(m, file=sys.stderr))
    print(f"\n{'method':<8}{'norm':>7}{'alpha':>7}{'rrf_k':>7}{'ndcg@10':>10}{'mrr@10':>9}{'recall@100':>12}")
    for cfg, f in rows:
        norm = cfg.normalization if cfg.method == "convex" else "-"
        print(f"{cfg.method:<8}{norm:>7}{cfg.alpha:>7.2f}{cfg.rrf_k:>7d}{f['ndcg@10']:>10.4f}"
              f"{f['mrr@10']:>9.4f}{f['recall@100']:>12.4f}")
    _write(json_out, [{"fusion": c.model_dump(), **f} for c, f in rows])


@app.command()
def suite(
    source: Annotated[Path, typer.Argument(help="Parts JSONL file or a built snapshot directory")],
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.jsonl")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures as JSON")] = None,
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshot + embedding cache")
    ] = DEFAULT_ROOT,
    fusion_spec: FusionOpt = None,
    tokenizer: TokenizerOpt = None,
) -> None:
    """Catalogue suite: hit@k, MRR, nDCG on expected ids and constraint compliance, by kind."""
    from .drivers.catalogue import evaluate_suite, open_source_or_snapshot

    if not source.exists():
        print(f"error: {source} does not exist", file=sys.stderr)
        raise typer.Exit(2)
    override, settings = _fusion(fusion_spec), _settings(tokenizer)
    encoder = _encoder()
    snap = open_source_or_snapshot(source, root, encoder, settings,
                                   log=lambda m: print(m, file=sys.stderr))
    try:
        figures = evaluate_suite(snap, suite_path, encoder, fusion=override)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    finally:
        snap.close()
    print_table(f"{suite_path} on {source}", {m: f for m, f in figures.items()})
    for kind in figures["hybrid"]["by_kind"]:
        print_table(f"  kind: {kind}", {m: figures[m]["by_kind"][kind] for m in figures})
    for mode, f in figures.items():
        if f["zero_result_queries"]:
            print(f"{mode}: zero-result queries: {f['zero_result_queries']}")
    if figures["hybrid"]["unsatisfiable_queries"]:
        print(f"unsatisfiable (reported apart): {figures['hybrid']['unsatisfiable_queries']}")
    _write(json_out, figures)


@app.command()
def bench(
    source: Annotated[
        Path, typer.Option(help="Parts JSONL source")
    ] = Path("data/sample/parts-3k.jsonl.gz"),
    suite_path: Annotated[Path, typer.Option("--suite")] = Path("eval/suites/parts-sample.jsonl"),
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """Build / rebuild times, embeddings reused, search p50/p95 per mode, serve cold start, RSS."""
    from .drivers.bench import run_bench

    out = run_bench(source, suite_path, _encoder(), log=lambda m: print(m, file=sys.stderr))
    b = out["build"]
    print(f"\nbuild of {source} ({b['cold']['records']} records, {out['cpus']} CPUs)")
    print(f"{'build':<24}{'total s':>9}{'encode s':>10}{'other s':>9}{'reused':>8}{'encoded':>9}")
    for name in ("cold", "rebuild_unchanged", "rebuild_1pct_changed"):
        r = b[name]
        print(f"{name:<24}{r['total_s']:>9.1f}{r['encode_s']:>10.1f}{r['other_s']:>9.1f}"
              f"{r['reused']:>8d}{r['encoded']:>9d}")
    print(f"\n{'search (in-process)':<20}{'uncached p50':>14}{'p95':>8}"
          f"{'cached p50':>12}{'p95':>8}")
    for mode, r in out["search"].items():
        print(f"{mode:<20}{r['uncached_p50_ms']:>14.2f}{r['uncached_p95_ms']:>8.2f}"
              f"{r['cached_p50_ms']:>12.2f}{r['cached_p95_ms']:>8.2f}")
    print(f"\nserve: {out['serve']}")
    print(f"gates: {out['gates']}")
    _write(json_out, out)


@app.command()
def serving(
    store: Annotated[
        list[str],
        typer.Option("--store", metavar="NAME=PATH",
                     help="A store root (its `current`) or a snapshot directory; repeatable"),
    ],
    parts_suite: Annotated[Path, typer.Option("--parts-suite")] = Path(
        "eval/suites/parts-25k.jsonl"),
    scifact: Annotated[Path, typer.Option("--scifact", help="BEIR directory (queries.jsonl)")] = (
        Path("../shared/data/scifact")),
    no_torch: Annotated[
        bool, typer.Option("--no-torch", help="ONNX figures only (no torch comparison)")
    ] = False,
    runs: Annotated[int, typer.Option(min=1, help="server spawns per store")] = 3,
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """ONNX vs torch query encode p50 and cosine agreement; server spawn -> first answer and
    RSS when ready, per store."""
    from .drivers.serving import load_queries, print_serving, run_serving

    stores: dict[str, Path] = {}
    for item in store:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_dir():
            print(f"error: --store {item!r}: give NAME=PATH with PATH a store root or a snapshot "
                  "directory", file=sys.stderr)
            raise typer.Exit(2)
        stores[name] = Path(path)
    out = run_serving(stores, load_queries(parts_suite, scifact),
                      None if no_torch else _encoder(), runs=runs,
                      log=lambda m: print(m, file=sys.stderr))
    print_serving(out)
    _write(json_out, out)


@app.command()
def speed(
    source: Annotated[Path, typer.Argument(help="Parts JSONL file or a built snapshot directory")],
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.jsonl")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures as JSON")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Repetitions of each query")] = 5,
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshot + embedding cache")
    ] = DEFAULT_ROOT,
    query_threads: Annotated[
        int, typer.Option(min=1, help="onnxruntime threads per query encode (1: a server "
                          "process per core; 2: one process, SNAPSEARCH_QUERY_THREADS=0)")
    ] = 1,
) -> None:
    """In-process search cost beyond the query encode (embedding cached), uncached, encode alone;
    and a digest of every ranking, to show a speed change moved no result."""
    from .drivers.build import served_encoder
    from .drivers.catalogue import open_source_or_snapshot
    from .drivers.speed import measure_engine, print_speed

    if not source.exists():
        print(f"error: {source} does not exist", file=sys.stderr)
        raise typer.Exit(2)
    snap = open_source_or_snapshot(source, root, _encoder(), _settings(None),
                                   log=lambda m: print(m, file=sys.stderr))
    try:
        # the query encoder the server runs (the snapshot's ONNX export), not the build model
        figures = measure_engine(snap, suite_path, served_encoder(snap, query_threads),
                                 rounds=rounds, log=lambda m: print(m, file=sys.stderr))
        figures["query_threads"] = query_threads
    finally:
        snap.close()
    print_speed(figures, f"{suite_path} on {source}")
    _write(json_out, figures)


@app.command()
def cutover(
    cutovers: Annotated[int, typer.Option(min=1, help="Moves of `current`")] = 100,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between moves")] = 1.0,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients")] = 8,
    steady: Annotated[float, typer.Option(min=0, help="Seconds of load before the moves")] = 10,
    close_grace: Annotated[
        float, typer.Option(min=0, help="SNAPSEARCH_CLOSE_GRACE_S of the server")
    ] = 0.0,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
    records: Annotated[int, typer.Option(min=10, help="Records per snapshot")] = 1500,
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """Steady load on `python -m serve` while `current` moves (publish and rollback
    alternating): every request must be answered 200 from the old or the new snapshot."""
    from snapsearch.settings import PipelineSettings, load_settings

    from .drivers.cutover import print_drill, run_drill

    backend = load_settings(PipelineSettings).encoder  # what builds the drill's two snapshots
    figures = run_drill(
        encoder=_encoder(), backend=backend, cutovers=cutovers, interval_s=interval,
        clients=clients, steady_s=steady, close_grace_s=close_grace, workers=workers,
        records=records, log=lambda m: print(m, file=sys.stderr),
    )
    print_drill(figures)
    _write(json_out, figures)
    if figures["failures"]:
        raise typer.Exit(1)


@app.command()
def workers(
    store: Annotated[Path, typer.Argument(help="Store root whose `current` is served")],
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.jsonl", help="Queries to send")],
    counts: Annotated[
        str, typer.Option("--workers", help="Worker counts, comma-separated")
    ] = "1,2",
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients")] = 8,
    seconds: Annotated[float, typer.Option(min=1, help="Seconds of load per count")] = 15,
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """`snapsearch serve --workers N`: RSS/PSS per worker and HTTP QPS, p50, p99 for each N."""
    from .drivers.workers import measure_workers, print_workers
    from .suite import load_suite

    try:
        ns = [int(x) for x in counts.split(",")]
    except ValueError:
        print(f"error: --workers {counts!r}: write counts like 1,2,3", file=sys.stderr)
        raise typer.Exit(2) from None
    queries = list(dict.fromkeys(q.query for q in load_suite(suite_path)))
    rows = measure_workers(store, queries, ns, clients=clients, seconds=seconds,
                           log=lambda m: print(m, file=sys.stderr))
    print_workers(rows)
    _write(json_out, rows)


@app.command()
def suites(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 naming the suites that differ")
    ] = False,
    full: Annotated[
        Path | None,
        typer.Option("--full", help="The 25,000-part parts.jsonl "
                     "[default: ../shared/data/jlcpcb_parts/parts.jsonl beside the repository]"),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Print each need's answer-set size")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="NAME",
                     help="Build only this suite (parts-sample or parts-25k); repeatable"),
    ] = None,
) -> None:
    """Write the committed query suites from their needs (eval/suites/needs/) and the parts data."""
    from .suitebuilder import DEFAULT_FULL_PARTS, build_suite, suite_specs

    specs = suite_specs(full or DEFAULT_FULL_PARTS)
    names = [spec.name for spec in specs]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        print(f"error: --only {unknown[0]!r}: no such suite; expected one of {', '.join(names)}",
              file=sys.stderr)
        raise typer.Exit(2)
    specs = tuple(spec for spec in specs if not only or spec.name in only)
    for spec in specs:
        if not spec.parts.is_file():
            print(f"error: {spec.parts} (the parts file of {spec.name}) does not exist; pass "
                  "--full PATH, or --only with the other suites", file=sys.stderr)
            raise typer.Exit(2)
    stale = []
    for spec in specs:
        if report:
            print(f"{spec.out_path.name}:")
        try:
            built = build_suite(spec, report=print if report else None)
        except ValueError as exc:  # SuiteBuildError, or a malformed needs file
            print(f"error: {spec.name}: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        if check:
            if not built.is_current():
                stale.append(spec.out_path.name)
        else:
            built.write()
        print(f"{spec.out_path.name}: {built.kinds()}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run `python -m eval suites` to rewrite)",
              file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def peers(
    corpus: Annotated[
        list[str] | None,
        typer.Option("--corpus", help="scifact and/or parts-25k (repeatable) [default: both]"),
    ] = None,
    system: Annotated[
        list[str] | None,
        typer.Option("--system", help="snapsearch, snapsearch-vector, txtai, lancedb, chroma "
                     "(repeatable) [default: all]"),
    ] = None,
    scifact_path: Annotated[
        Path, typer.Option("--scifact", help="BEIR SciFact directory")
    ] = Path("../shared/data/scifact"),
    parts_path: Annotated[
        Path, typer.Option("--parts", help="The 25,000-part parts.jsonl")
    ] = Path("../shared/data/jlcpcb_parts/parts.jsonl"),
    suite_path: Annotated[Path, typer.Option("--suite")] = Path("eval/suites/parts-25k.jsonl"),
    repeats: Annotated[
        int, typer.Option(min=1, help="Fresh processes per system and corpus (medians)")
    ] = 3,
    concurrency: Annotated[
        list[int] | None,
        typer.Option("--concurrency", help="HTTP concurrencies for `snapsearch serve` "
                     "(repeatable) [default: 1, 8, 32]; 0 skips the HTTP part"),
    ] = None,
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshots + embedding cache")
    ] = DEFAULT_ROOT,
    work: Annotated[
        Path, typer.Option(help="The peers' exported corpora, indexes and logs")
    ] = Path(".cache") / "peers",
    max_queries: Annotated[
        int | None, typer.Option("--max-queries", min=1,
                                 help="Time and score only each corpus's first N queries (smoke)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures as JSON")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Also print the tables as Markdown")
    ] = False,
) -> None:
    """snapsearch vs txtai, LanceDB and Chroma, side by side in one run: cold start, p50/p95,
    RSS, index size, nDCG@10 (fresh processes), and snapsearch serve over HTTP."""
    from pipelines.transform.encoder import default_model_path

    from .drivers.peer_corpus import first_queries, parts_corpus, scifact_corpus
    from .drivers.peer_report import markdown_http, markdown_table, text_table
    from .drivers.peers import choose, missing_packages, run_peers

    makers = {"scifact": lambda: scifact_corpus(scifact_path),
              "parts-25k": lambda: parts_corpus(parts_path, suite_path)}
    unknown = [c for c in corpus or () if c not in makers]
    try:
        if unknown:
            raise ValueError(f"unknown corpus {unknown[0]!r}: expected scifact or parts-25k")
        systems = choose(system)
        corpora = [first_queries(makers[c](), max_queries) for c in corpus or makers]
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    lacking = missing_packages(systems)
    if lacking:
        print(f"error: {', '.join(lacking)} not installed: install the peers extra "
              "(pip install -e '.[peers]'), or leave them out with --system", file=sys.stderr)
        raise typer.Exit(2)
    levels = tuple(c for c in (concurrency or [1, 8, 32]) if c > 0)
    out = run_peers(corpora, systems, root=root, work=work, encoder=_encoder(),
                    model_dir=default_model_path(), repeats=repeats, http_levels=levels,
                    log=lambda m: print(m, file=sys.stderr))
    m = out["machine"]
    print(f"\n{m['cpus']} CPUs, load average at start {m['load_at_start']}, at end "
          f"{m['load_at_end']}; {out['repeats']} fresh processes per system, medians; "
          "(x) = ratio to the best peer")
    for name, c in out["corpora"].items():
        print(f"\n{name}: {c['docs']} docs, {c['note']}")
        print(text_table(c))
        if markdown:
            print("\n" + markdown_table(c))
            if c.get("http"):
                print("\n" + markdown_http(c))
    for t in out["targets"]:
        print(f"target: {t['target']}: {t['value']} -> {'met' if t['met'] else 'NOT met'}")
    _write(json_out, out)


@app.command()
def collections(
    parts: Annotated[
        Path, typer.Option(help="Parts JSONL source")
    ] = Path("data/sample/parts-3k.jsonl.gz"),
    parts_suite: Annotated[
        Path, typer.Option("--suite", help="Judged parts queries (meant for the parts collection)")
    ] = Path("eval/suites/parts-sample.jsonl"),
    beir: Annotated[
        Path, typer.Option(help="BEIR directory of the text collection")
    ] = Path("../shared/data/scifact"),
    text_queries: Annotated[
        int, typer.Option(help="Judged BEIR test queries (meant for the text collection)")
    ] = 100,
    max_docs: Annotated[
        int, typer.Option(help="Text collection from at most this many documents: the judged "
                          "ones, then others evenly spread (0: the whole corpus)")
    ] = 0,
    root: Annotated[
        Path, typer.Option(help="Store for the eval snapshot + embedding cache")
    ] = DEFAULT_ROOT,
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """A two-collection snapshot (parts + a text corpus): does each query's own collection
    rank first when both are searched at once (calibrated merge vs a raw-score merge)?"""
    from .drivers.collections import evaluate_collections, print_figures

    for path in (parts, parts_suite, beir):
        if not path.exists():
            print(f"error: {path} does not exist", file=sys.stderr)
            raise typer.Exit(2)
    figures = evaluate_collections(parts, parts_suite, beir, root, _encoder(),
                                   text_queries=text_queries, max_docs=max_docs,
                                   log=lambda m: print(m, file=sys.stderr))
    print_figures(figures)
    _write(json_out, figures)


@app.command()
def feedback(
    query: Annotated[str, typer.Option(help="The query whose ranking feedback changes")] = (
        "10k 0402 resistor"
    ),
    target_rank: Annotated[int, typer.Option(help="Rank of the record voted up")] = 5,
    sessions: Annotated[int, typer.Option(help="Sessions voting it up")] = 3,
    root: Annotated[
        Path, typer.Option(help="Store (a fresh one: the round trip publishes into it)")
    ] = Path(".cache") / "feedback-store",
    json_out: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """Feedback round trip: build + publish, POST /v1/feedback, build again, rank again."""
    from snapsearch.settings import PipelineSettings, SettingsError, load_settings

    from .drivers.feedback import feedback_round_trip

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from snapsearch.format.layout import feedback_log_path

    if feedback_log_path(root).exists():
        print(f"error: {root} already holds feedback ({feedback_log_path(root)}): the round trip "
              "needs a store without any; give a fresh --root or remove that one", file=sys.stderr)
        raise typer.Exit(2)
    try:
        settings = load_settings(PipelineSettings, {"root": root})
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    out = feedback_round_trip(settings, query=query, target_rank=target_rank,
                              sessions=sessions, log=lambda m: print(m, file=sys.stderr))
    print(f"\n{'query':<24}{'record':>10}{'rank before':>13}{'rank after':>12}"
          f"{'score before':>14}{'score after':>13}")
    print(f"{out['query']:<24}{out['target']:>10}{out['rank_before']:>13}"
          f"{str(out['rank_after']):>12}{out['score_before']:>14.4f}"
          f"{(out['score_after'] or 0.0):>13.4f}")
    print(f"priors: {out['priors']}")
    print(f"quality gate: {out['quality_gate']}")
    _write(json_out, out)


if __name__ == "__main__":
    app()
