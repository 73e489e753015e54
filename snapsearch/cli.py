"""`snapsearch`: one console script, thin over library functions.

Options that set a ``SNAPSEARCH_*`` setting are derived from its declaration in
``snapsearch.settings`` (name, type, help, default); a flag given overrides the environment.
Errors are one line with the fix. Exit codes: 0 ok, 1 failed (a snapshot, store, source or gate
problem), 2 invalid settings or arguments. Heavy imports (dagster, torch) happen inside the
command that needs them (only `run`), so `snapsearch status` is instant and `serve`, `query`,
`verify`, `status` and `rollback` work with the serve-only install (`pip install .`).
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
    workers: Annotated[int | None, setting_option(ServeSettings, "workers")] = None,
) -> None:
    """Serve the `current` snapshot read-only over HTTP (as `python -m serve` does)."""
    from serve.__main__ import run as run_server

    status = run_server(
        _settings(ServeSettings, root=root, host=host, port=port, workers=workers)
    )
    if status:
        raise typer.Exit(status)


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
        bool, typer.Option(help="Also check the snapshot's query encoder against the pin")
    ] = True,
    require_gates: Annotated[
        bool,
        typer.Option("--gates/--no-gates",
                     help="Also require a passing gate report (<root>/_gates/<id>.json); "
                          "--no-gates for a snapshot not validated yet"),
    ] = True,
) -> None:
    # one logical line: typer's rich help keeps a docstring's line breaks
    (
        "Full check: the manifest's seal, every file's size and sha256, the gate report and "
        "the model pin (the snapshot's query encoder reproduces the pinned canary). "
        "Exit 0 only if sound."
    )
    from snapsearch.format.model_query import open_query_encoder
    from snapsearch.format.verify import verify_snapshot

    if not snapshot_dir.is_dir():
        _fail(
            f"{snapshot_dir} is not a directory "
            "(give a snapshot directory, e.g. snapshots/current)"
        )
    manifest = verify_snapshot(
        snapshot_dir, checksums=True, gates="passed" if require_gates else "if_present"
    )
    typer.echo(f"files: {len(manifest.files)} ok (sealed manifest, sizes and sha256)")
    if require_gates:
        typer.echo("gates: passed (sealed report bound to the manifest)")
    if model:
        open_query_encoder(snapshot_dir, manifest.model, where=f"snapshot {manifest.snapshot_id}")
        typer.echo(
            f"model: {manifest.model.model_id} matches the pin "
            f"(query encoder: {manifest.model.query_encoder})"
        )
    typer.echo(f"ok: {manifest.snapshot_id}")


FilterOpt = Annotated[list[str] | None, typer.Option(
    "--filter", "-f", metavar="NAME=VALUE",
    help="A filter of the collection's kind, repeatable: package=0402, in_stock=true, "
    "stock_min=100, numeric=Resistance:resistance:9900:10100 (a bound may be empty; repeat "
    "for more ranges). Values are typed as the kind declares them.",
)]
FiltersOpt = Annotated[str | None, typer.Option(
    "--filters", metavar="JSON",
    help='All filters as the API\'s JSON object, e.g. \'{"package": "0402", "in_stock": true}\' '
    "(--filter options are added to it)",
)]


def _query_filters(kind: Any, collection: str, given: list[str], as_json: str | None) -> dict:
    """The ``--filters`` object with each ``--filter NAME=VALUE`` added, typed by ``kind``'s
    declarations; an unknown name or a bad value ends the command (exit 2) saying why."""
    from serve.pageform import FormProblem, value_from_text
    from snapsearch.kinds.filters import NumericRanges
    from snapsearch.search.errors import FilterNotSupported

    filters: dict[str, Any] = {}
    if as_json is not None:
        try:
            filters = json.loads(as_json)
        except ValueError as exc:
            _fail(f"--filters is not valid JSON: {exc}", EXIT_USAGE)
        if not isinstance(filters, dict):
            _fail('--filters must be a JSON object, e.g. \'{"package": "0402"}\'', EXIT_USAGE)
    specs = {spec.name: spec for spec in kind.filter_specs()}
    for item in given:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            _fail(f"--filter {item!r}: give NAME=VALUE, e.g. --filter package=0402", EXIT_USAGE)
        spec = specs.get(name)
        if spec is None:
            unknown = FilterNotSupported(name, collection, kind.name, list(specs))
            _fail(f"--filter {name}: {unknown}", EXIT_USAGE)
        try:
            value = value_from_text(spec, raw.strip())
        except FormProblem as exc:
            _fail(f"--filter {exc.message}", EXIT_USAGE)
        if isinstance(spec, NumericRanges):
            filters[name] = [*filters.get(name, []), *value]
        else:
            filters[name] = value
    return filters


@app.command()
@_guard
def query(
    text: Annotated[str, typer.Argument(help="What to search for")],
    root: RootOpt = None,
    mode: Annotated[str, typer.Option(help="vector | lexical | hybrid")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100, help="Hits to show")] = 10,
    offset: Annotated[int, typer.Option(min=0, max=900, help="Hits to skip (paging)")] = 0,
    collection: Annotated[
        str | None, typer.Option(help="Collection to search [default: the snapshot's first]")
    ] = None,
    filter_: FilterOpt = None,
    filters: FiltersOpt = None,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Drop hits scoring below this")
    ] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="The API's JSON answer (as POST /v1/search gives it)")
    ] = False,
) -> None:
    """Search the `current` snapshot in-process (no server needed), as POST /v1/search does."""
    from snapsearch.format.links import resolve_current
    from snapsearch.format.model_query import open_query_encoder
    from snapsearch.format.reader import open_snapshot
    from snapsearch.kinds import get_kind
    from snapsearch.search.engine import SearchEngine
    from snapsearch.search.errors import SearchError, UnknownCollection
    from snapsearch.search.filters import parse_filters
    from snapsearch.search.types import SearchRequest

    settings = _settings(CommonSettings, root=root)
    with open_snapshot(resolve_current(_store(settings))) as snap:
        if collection is not None and collection not in snap.collections:
            _fail(str(UnknownCollection(collection, list(snap.collections))))
        col = snap.collection(collection)
        kind = get_kind(col.info.kind)
        body = {
            "query": text, "mode": mode, "limit": limit, "offset": offset,
            "collection": collection, "min_score": min_score,
            "filters": _query_filters(kind, col.name, filter_ or [], filters),
        }
        req = SearchRequest.model_validate(body)  # the API's model: invalid -> exit 2
        try:
            parse_filters(kind, col.name, req.filters)  # as the API does, before a model loads
            encoder = None
            if mode != "lexical":
                encoder = open_query_encoder(snap.path, snap.manifest.model)
            resp = SearchEngine(snap, encoder).search(req)
        except SearchError as exc:
            _fail(f"invalid request: {exc.message}", EXIT_USAGE)
    if as_json:
        typer.echo(resp.model_dump_json(indent=2))
        return
    note = " (no good match: the nearest records, not real matches)" if resp.match == "weak" else ""
    typer.echo(f"{resp.snapshot_id}  mode={resp.mode}  match={resp.match}{note}  "
               f"{resp.total_candidates} candidates  {resp.took_ms:.1f} ms")
    if resp.match == "none":
        typer.echo("no match")
    for i, h in enumerate(resp.hits, resp.offset + 1):
        typer.echo(f"{i:3d}. {h.id:<12s} {h.score:.3f}  {kind.display(h.record)[:110]}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


if __name__ == "__main__":
    main()
