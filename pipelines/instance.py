"""The store's one Dagster instance: where every run of the job is recorded.

Its home is ``<store root>/_dagster`` (``SNAPSEARCH_DAGSTER_HOME`` moves it). ``snapsearch run``
executes the job on it; ``dagster dev`` shows it, and its schedule, sensor and UI launches
record into it, when started with that home as ``DAGSTER_HOME`` (README, "Operations"). A
rollback done by ``snapsearch rollback`` is recorded as a materialization of ``published`` so
the asset's history always ends at what is live.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, DagsterInstance

from pipelines.metadata import published_metadata
from pipelines.publish.events import PublishEvent
from snapsearch.settings import CommonSettings

log = logging.getLogger(__name__)

DAGSTER_YAML = """\
# The snapsearch store's Dagster instance (written by snapsearch; edit freely, it is not
# rewritten). Storage: SQLite files under this directory.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1  # the job holds the store's run lock from fetch to publish anyway
"""


def prepare_home(home: Path) -> Path:
    """Create the instance home with its dagster.yaml (kept if present); returns it."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


@contextmanager
def store_instance(settings: CommonSettings) -> Iterator[DagsterInstance]:
    """The store's persistent Dagster instance (created on first use)."""
    home = prepare_home(settings.dagster_home_dir())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema migrations on first use
    instance = DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


def instance_mismatch(instance: DagsterInstance, settings: CommonSettings) -> str | None:
    """A warning when a run records into another persistent instance than the store's (e.g.
    ``dagster dev`` started without the store's DAGSTER_HOME); None when they agree or the
    instance is a throwaway one (tests)."""
    if instance.is_ephemeral:
        return None
    home = Path(instance.root_directory).resolve()
    want = settings.dagster_home_dir().resolve()
    if home == want:
        return None
    return (
        f"this run records into the Dagster instance at {home}, not the store's at {want}: "
        f"`snapsearch run` and this instance show different histories "
        f"(fix: DAGSTER_HOME={want} dagster dev)"
    )


def record_rollback(settings: CommonSettings, event: PublishEvent) -> None:
    """Record a rollback as a materialization of ``published`` (no run: the CLI did it)."""
    with store_instance(settings) as instance:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey("published"),
                description=f"snapsearch rollback: current {event.from_id or '-'} -> "
                            f"{event.to_id}",
                metadata=published_metadata(event),
            )
        )
