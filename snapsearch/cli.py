"""`snapsearch`: one console script, thin over library functions.

Options that set a ``SNAPSEARCH_*`` setting are derived from its declaration in
``snapsearch.settings`` (name, type, help, default); a flag given overrides the environment.
Errors are one line with the fix. Exit codes: 0 ok, 1 failed (a snapshot, store, source or gate
problem), 2 invalid settings or arguments. Heavy imports (dagster, torch) happen inside the
command that needs them, so `snapsearch status` is instant.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic_settings import BaseSettings

from snapsearch.settings import (
    CommonSettings,
    PipelineSettings,
    ServeSettings,
    SettingsError,
    env_name,
    load_settings,
)

EXIT_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Build, validate, publish and serve immutable search snapshots.",
)


def flag(field: str) -> str:
    """The command-line option of the setting ``field``."""
    return "--" + field.replace("_", "-")


def setting_option(cls: type[BaseSettings], field: str) -> Any:
    """A typer option for the setting ``cls.field``: its flag, help, environment variable and
    default come from the declaration; unset (None), the environment or the default apply."""
    info = cls.model_fields[field]
    default = info.get_default(call_default_factory=True)
    return typer.Option(
        flag(field),
        help=f"{info.description}; env var {env_name(cls, field)}",
        show_default=False if default is None else str(default),
    )


RootOpt = Annotated[Path | None, setting_option(CommonSettings, "root")]
S = TypeVar("S", bound=BaseSettings)
P = ParamSpec("P")
R = TypeVar("R")


def _settings(cls: type[S], **given: Any) -> S:
    """``cls`` from the environment, with the flags the user gave on top."""
    return load_settings(cls, {k: v for k, v in given.items() if v is not None}, flag=flag)


def _store(settings: CommonSettings) -> Path:
    """The settings' store root, which must be a directory."""
    root = settings.root
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        _fail(
            f"no snapshot store at {root}: it {what} (fix: give --root or set "
            f"{env_name(CommonSettings, 'root')}, or build one with `snapsearch run`)"
        )
    return root


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into one line with the fix."""

    @functools.wraps(fn)
    def wrapper(*a: P.args, **kw: P.kwargs) -> R:
        from pydantic import ValidationError

        from snapsearch.format.errors import SnapshotError

        try:
            return fn(*a, **kw)
        except SettingsError as exc:
            _fail(str(exc), EXIT_USAGE)
        except ValidationError as exc:  # an argument the library's request model refuses
            err = exc.errors(include_url=False)[0]
            _fail(f"invalid {'.'.join(map(str, err['loc']))}: {err['msg']}", EXIT_USAGE)
        except SnapshotError as exc:
            _fail(str(exc))
        except (KeyError, ValueError) as exc:
            _fail(str(exc).strip("'\""))
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - never a traceback (its chain may loop forever)
            _fail(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")

    return wrapper


@app.command()
@_guard
def run(
    root: RootOpt = None,
    source: Annotated[str | None, setting_option(PipelineSettings, "source")] = None,
    suite: Annotated[Path | None, setting_option(PipelineSettings, "suite")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Build and publish even if inputs are unchanged")
    ] = False,
) -> None:
    """Fetch → transform → validate → publish every configured collection, in-process (the same
    Dagster job as the schedule)."""
    settings = _settings(PipelineSettings, root=root, source=source, suite=suite)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("snapsearch").setLevel(logging.INFO)
    from pipelines.job import run_job

    outcome = run_job(settings, force=force)
    typer.echo(outcome.note)
    typer.echo(f"current: {outcome.current}")
    typer.echo(f"run: {outcome.run_id} (recorded in {settings.dagster_home_dir()})")


@app.command()
@_guard
def serve(
    root: RootOpt = None,
    host: Annotated[str | None, setting_option(ServeSettings, "host")] = None,
    port: Annotated[int | None, setting_option(ServeSettings, "port")] = None,
) -> None:
    """Serve the `current` snapshot read-only over HTTP (as `python -m serve` does)."""
    from serve.__main__ import run as run_server

    run_server(_settings(ServeSettings, root=root, host=host, port=port))


@app.command()
@_guard
def status(
    root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Current, previous, retained snapshots and the last publish events."""
    from pipelines.publish import store_status

    st = store_status(_store(_settings(CommonSettings, root=root)))
    if as_json:
        typer.echo(json.dumps(st.to_dict(), indent=2, default=str))
        return
    typer.echo(f"root:     {st.root}")
    typer.echo(f"current:  {st.current or '-'}")
    typer.echo(f"previous: {st.previous or '-'}")
    if st.current is not None and st.previous == st.current:
        typer.echo("warning:  previous == current (a publish or rollback was killed between its "
                   "link flips); the next run or rollback repairs it from the publish log")
    if st.run is not None:
        who = ", ".join(f"{k} {v}" for k, v in st.run.items() if v)
        typer.echo(f"run:      in progress ({who})")
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
    # one logical line: typer's rich help keeps a docstring's line breaks
    (
        "Point `current` at `previous` (or at a named retained snapshot), atomically, after "
        "verifying it in full; refuses a broken target or one that is already current."
    )
    from pipelines.publish import rollback as do_rollback

    settings = _settings(CommonSettings, root=root)
    ev = do_rollback(_store(settings), snapshot_id)
    typer.echo(f"rolled back: current {ev.from_id or '-'} -> {ev.to_id}")
    _record_rollback(settings, ev)


def _record_rollback(settings: CommonSettings, event: Any) -> None:
    """Record the rollback in the store's Dagster instance, where Dagster is installed (a
    serve-only install has none; the rollback itself never depends on it)."""
    try:
        from pipelines.instance import record_rollback
    except ImportError:
        return
    try:
        record_rollback(settings, event)
    except Exception as exc:  # noqa: BLE001 - the links moved; recording is best effort
        typer.echo(f"warning: rollback not recorded in the Dagster instance: {exc}", err=True)


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
    from snapsearch.format.model import check_pin
    from snapsearch.format.verify import verify_snapshot

    if not snapshot_dir.is_dir():
        _fail(
            f"{snapshot_dir} is not a directory "
            "(give a snapshot directory, e.g. snapshots/current)"
        )
    manifest = verify_snapshot(snapshot_dir, checksums=True)
    typer.echo(f"files: {len(manifest.files)} ok (sizes and sha256)")
    if model:
        encoder = _settings(CommonSettings).encoder_factory()()
        check_pin(manifest.model, encoder, where=f"snapshot {manifest.snapshot_id}")
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
    from snapsearch.format.model import check_pin
    from snapsearch.format.reader import open_snapshot
    from snapsearch.search.engine import SearchEngine
    from snapsearch.search.types import SearchRequest

    settings = _settings(CommonSettings, root=root)
    req = SearchRequest(query=text, mode=mode, limit=limit, collection=collection)  # type: ignore[arg-type]
    with open_snapshot(resolve_current(_store(settings))) as snap:
        encoder = settings.encoder_factory()() if mode != "lexical" else None
        if encoder is not None:
            check_pin(snap.manifest.model, encoder, where=f"snapshot {snap.snapshot_id}")
        engine = SearchEngine(snap, encoder)
        resp = engine.search(req)
        kind = engine.kind(resp.collection)
    if as_json:
        typer.echo(resp.model_dump_json(indent=2))
        return
    typer.echo(f"{resp.snapshot_id}  mode={resp.mode}  match={resp.match}  {resp.took_ms:.1f} ms")
    for i, h in enumerate(resp.hits, 1):
        typer.echo(f"{i:3d}. {h.id:<12s} {h.score:.3f}  {kind.display(h.record)[:110]}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


if __name__ == "__main__":
    main()
