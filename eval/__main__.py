"""`python -m eval`: retrieval quality and speed figures.

    python -m eval beir PATH [--json OUT]                  BEIR directory (corpus, queries, qrels)
    python -m eval suite SOURCE_OR_SNAPSHOT SUITE.jsonl [--json OUT]
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
COLUMNS = ("ndcg@10", "mrr@10", "recall@100", "hit@1", "hit@10", "compliance", "p50_ms", "p95_ms")


def _encoder():  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from snapfmt.model import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


def print_table(title: str, figures: dict[str, dict[str, Any]]) -> None:
    cols = [c for c in COLUMNS if any(c in f for f in figures.values())]
    print(f"\n{title}")
    print(f"{'mode':<10}" + "".join(f"{c:>12}" for c in cols))
    for mode, f in figures.items():
        print(f"{mode:<10}" + "".join(
            f"{f[c]:>12.3f}" if isinstance(f.get(c), float) else f"{'-':>12}" for c in cols))


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
    root: Annotated[Path, typer.Option(help="Store for the eval snapshot + embedding cache")] = DEFAULT_ROOT,
) -> None:
    """nDCG@10, MRR@10, recall@100, hit@1, hit@10, p50/p95 per mode on a BEIR dataset."""
    from .beir import evaluate_beir

    try:
        figures = evaluate_beir(path, root, _encoder(), split=split, log=lambda m: print(m, file=sys.stderr))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print_table(f"{path} ({split}, {int(figures['hybrid']['queries'])} queries)", figures)
    _write(json_out, figures)


@app.command()
def suite(
    source: Annotated[Path, typer.Argument(help="Parts JSONL file or a built snapshot directory")],
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.jsonl")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures as JSON")] = None,
    root: Annotated[Path, typer.Option(help="Store for the eval snapshot + embedding cache")] = DEFAULT_ROOT,
) -> None:
    """Catalogue suite: hit@k, MRR, nDCG on expected ids and constraint compliance, by kind."""
    from .catalogue import evaluate_suite, open_source_or_snapshot

    if not source.exists():
        print(f"error: {source} does not exist", file=sys.stderr)
        raise typer.Exit(2)
    encoder = _encoder()
    snap = open_source_or_snapshot(source, root, encoder, log=lambda m: print(m, file=sys.stderr))
    try:
        figures = evaluate_suite(snap, suite_path, encoder)
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


if __name__ == "__main__":
    app()
