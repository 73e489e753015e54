"""`snapsearch`: one console script, thin over library functions.

Errors are one line with the fix; the exit code is non-zero on failure. Heavy imports (dagster,
torch) happen inside the command that needs them, so `snapsearch status` is instant.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Build, validate, publish and serve immutable search snapshots.",
)

RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root", envvar="SNAPSEARCH_ROOT",
        help="Snapshot store root [default: ./snapshots of the repo]",
    ),
]


def _root(root: Path | None) -> Path:
    if root is not None:
        return root
    from pipelines.settings import Settings

    return Settings().root


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guard(fn):  # type: ignore[no-untyped-def]
    """Turn library errors into one line with the fix."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
        from pydantic import ValidationError

        from snapsearch.format.errors import SnapshotError

        try:
            return fn(*a, **kw)
        except SnapshotError as exc:
            _fail(str(exc))
        except ValidationError as exc:
            err = exc.errors()[0]
            _fail(f"invalid setting {'.'.join(map(str, err['loc']))}: {err['msg']}")
        except (KeyError, ValueError) as exc:
            _fail(str(exc).strip("'\""))

    return wrapper


@app.command()
@_guard
def run(
    root: RootOpt = None,
    source: Annotated[
        str | None, typer.Option(help="File, directory or http(s) URL [default: bundled sample]")
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="Quality query suite (JSONL), or 'none'")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Build and publish even if inputs are unchanged")
    ] = False,
) -> None:
    """Fetch → transform → validate → publish, in-process (the same Dagster job as the schedule)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("snapsearch").setLevel(logging.INFO)
    from pipelines.job import run_job

    outcome = run_job(root=root, source=source, suite=suite, force=force)
    typer.echo(outcome.note)
    typer.echo(f"current: {outcome.current}")


@app.command()
@_guard
def serve(
    root: RootOpt = None,
    host: Annotated[str, typer.Option(envvar="SNAPSEARCH_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SNAPSEARCH_PORT")] = 8000,
) -> None:
    """Serve the `current` snapshot read-only over HTTP."""
    import uvicorn

    from serve.app import create_app
    from serve.logging import configure_logging
    from serve.settings import ServeSettings

    settings = ServeSettings(root=_root(root), host=host, port=port)
    configure_logging(settings.log_level)
    base = f"http://{host}:{port}"
    typer.echo(f"snapsearch: serving {settings.root}/current at {base}", err=True)
    typer.echo(
        f"  try: curl -s {base}/v1/search -H 'content-type: application/json' "
        "-d '{\"query\": \"10k 0402 resistor 1%\", \"limit\": 3}'",
        err=True,
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


@app.command()
@_guard
def status(
    root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Current, previous, retained snapshots and the last publish events."""
    from pipelines.publish import store_status

    st = store_status(_root(root))
    if as_json:
        typer.echo(json.dumps(st.to_dict(), indent=2, default=str))
        return
    typer.echo(f"root:     {st.root}")
    typer.echo(f"current:  {st.current or '-'}")
    typer.echo(f"previous: {st.previous or '-'}")
    typer.echo("snapshots:")
    for s in st.snapshots:
        mark = "*" if s.is_current else ("p" if s.is_previous else " ")
        gates = {True: "gates passed", False: "gates FAILED", None: "gates not run"}[s.gates_passed]
        typer.echo(f"  {mark} {s.snapshot_id}  {s.bytes / 1e6:8.1f} MB  {gates}")
    typer.echo("events:")
    for e in st.events:
        typer.echo(f"  {e.at}  {e.action:8s} {e.from_id or '-'} -> {e.to_id}  {e.note}")


@app.command()
@_guard
def rollback(
    snapshot_id: Annotated[
        str | None, typer.Argument(help="Snapshot to point `current` at [default: previous]")
    ] = None,
    root: RootOpt = None,
) -> None:
    """Point `current` at `previous` (or at a named retained snapshot), atomically."""
    from pipelines.publish import rollback as do_rollback

    ev = do_rollback(_root(root), snapshot_id)
    typer.echo(f"rolled back: current {ev.from_id or '-'} -> {ev.to_id}")


@app.command()
@_guard
def verify(
    snapshot_dir: Annotated[Path, typer.Argument(help="A snapshot directory")],
    model: Annotated[
        bool, typer.Option(help="Also check the installed model against the pin")
    ] = True,
) -> None:
    # one logical line: typer's rich help keeps a docstring's line breaks
    (
        "Full check: manifest, every file's size and sha256, and the model pin. "
        "Exit 0 only if sound."
    )
    from snapsearch.format.verify import verify_snapshot

    if not snapshot_dir.is_dir():
        _fail(
            f"{snapshot_dir} is not a directory "
            "(give a snapshot directory, e.g. snapshots/current)"
        )
    manifest = verify_snapshot(snapshot_dir, checksums=True)
    typer.echo(f"files: {len(manifest.files)} ok (sizes and sha256)")
    if model:
        from snapsearch.format.model import SentenceTransformerEncoder, check_pin

        check_pin(
            manifest.model, SentenceTransformerEncoder(), where=f"snapshot {manifest.snapshot_id}"
        )
        typer.echo(f"model: {manifest.model.model_id} matches the pin")
    typer.echo(f"ok: {manifest.snapshot_id}")


@app.command()
@_guard
def query(
    text: Annotated[str, typer.Argument(help="What to search for")],
    root: RootOpt = None,
    mode: Annotated[str, typer.Option(help="vector | lexical | hybrid")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    collection: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the `current` snapshot in-process (no server needed)."""
    from snapsearch.format.links import resolve_current
    from snapsearch.format.model import SentenceTransformerEncoder, check_pin
    from snapsearch.format.reader import open_snapshot
    from snapsearch.search.engine import SearchEngine
    from snapsearch.search.types import SearchRequest

    with open_snapshot(resolve_current(_root(root))) as snap:
        encoder = SentenceTransformerEncoder() if mode != "lexical" else None
        if encoder is not None:
            check_pin(snap.manifest.model, encoder, where=f"snapshot {snap.snapshot_id}")
        req = SearchRequest(query=text, mode=mode, limit=limit, collection=collection)  # type: ignore[arg-type]
        resp = SearchEngine(snap, encoder).search(req)
    if as_json:
        typer.echo(resp.model_dump_json(indent=2))
        return
    typer.echo(f"{resp.snapshot_id}  mode={resp.mode}  match={resp.match}  {resp.took_ms:.1f} ms")
    for i, h in enumerate(resp.hits, 1):
        r = h.record
        label = " | ".join(
            str(r[k]) for k in ("mpn", "package", "description", "title") if r.get(k)
        )
        typer.echo(f"{i:3d}. {h.id:<12s} {h.score:.3f}  {label[:110]}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


if __name__ == "__main__":
    main()
