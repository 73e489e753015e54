"""The snapshot being served: load (open, verify, check the model pin, warm up), swap, retire.

``SnapshotHolder`` holds one reference to the current ``Loaded``. Each request takes a lease on
the snapshot it answers from (``acquire``/``release``: ``serve.lifecycle``), so a swap (publish
or rollback moved ``<root>/current``) replaces the current one while requests in flight finish
on the old one. A replaced snapshot is closed when its last lease is released (and, when
``close_grace_s`` is set, not before that many seconds after the swap): never under a request.
A snapshot that cannot be opened, verified, matched to the model or warmed up is never swapped
in: the old one keeps answering, and the refusal is logged and counted.
"""

from __future__ import annotations

import ctypes
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from snapsearch.format.errors import SnapshotError
from snapsearch.format.links import resolve_current
from snapsearch.format.model import CANARY_TEXT, Encoder, check_pin
from snapsearch.format.public import public_info
from snapsearch.format.reader import Snapshot, open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.qcache import CacheStats, QueryEmbeddings
from snapsearch.search.types import SearchRequest
from snapsearch.settings import ServeSettings

from .logging import SERVE_LOGGER
from .metrics import HolderFigures, Metrics

log = logging.getLogger(SERVE_LOGGER)

# the query encoder of one snapshot (a swap to a snapshot with other encoder files loads its own)
EncoderFactory = Callable[[Snapshot], Encoder]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Loaded:
    """One opened, verified, pin-checked and warmed-up snapshot with its engine."""

    snapshot: Snapshot
    engine: SearchEngine
    target: Path
    loaded_at: str
    info_json: bytes  # the GET /v1/snapshot body, rendered once
    leases: int = field(default=0, init=False)  # requests using it now
    retired: bool = field(default=False, init=False)  # replaced, and past any close delay

    @property
    def snapshot_id(self) -> str:
        return self.snapshot.snapshot_id

    @property
    def etag(self) -> str:
        return f'"{self.snapshot_id}"'


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``): what a load or a
    closed snapshot freed stops counting in the process's RSS (~5 MB after a 25k load). Nothing
    on other C libraries."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def warm_up(engine: SearchEngine) -> None:
    """One canary query per collection: loads lazy pages and the model before traffic."""
    for name in engine.snapshot.collections:
        try:
            engine.search(SearchRequest(query=CANARY_TEXT, mode="hybrid", collection=name, limit=1))
        except Exception as exc:
            raise SnapshotError(
                f"snapshot {engine.snapshot.snapshot_id}: the warm-up query on collection "
                f"{name!r} failed: {exc!r}",
                fix="rebuild the snapshot; if it persists, report it with this message",
            ) from exc


class SnapshotHolder:
    """Holds the one current ``Loaded``; swaps it when ``<root>/current`` moves."""

    def __init__(
        self, settings: ServeSettings, encoder_factory: EncoderFactory, metrics: Metrics
    ) -> None:
        self._settings = settings
        self._encoder_factory = encoder_factory
        self._metrics = metrics
        self._current: Loaded | None = None
        self._retiring: list[Loaded] = []
        self._failed_target: Path | None = None
        self._missing_logged = False
        self._lock: anyio.Lock | None = None
        self._leases = threading.Lock()
        self._tg: TaskGroup | None = None
        self._queries: QueryEmbeddings | None = None
        self._query_stats = CacheStats()
        self.draining = False
        metrics.watch(self.figures)

    def figures(self) -> HolderFigures:
        queries = self._queries
        return HolderFigures(
            self._query_stats.hits, self._query_stats.misses,
            0 if queries is None else len(queries), len(self._retiring),
        )

    @property
    def current(self) -> Loaded | None:
        return self._current

    # -- leases: a snapshot is closed on its last release, never under a request --------------
    def acquire(self) -> Loaded | None:
        """The current snapshot, leased to the caller until ``release``; None before loading."""
        with self._leases:
            loaded = self._current
            if loaded is not None:
                loaded.leases += 1
            return loaded

    def release(self, loaded: Loaded) -> bool:
        """End one lease; True when that was the last one on a retired snapshot, which the
        caller must then close (``close_retired``), off the event loop."""
        with self._leases:
            loaded.leases -= 1
            return self._take_for_closing(loaded)

    def _take_for_closing(self, loaded: Loaded) -> bool:
        if loaded.retired and loaded.leases == 0 and loaded in self._retiring:
            self._retiring.remove(loaded)
            return True
        return False

    def close_retired(self, loaded: Loaded) -> None:
        loaded.snapshot.close()
        release_free_memory()
        log.info("closed snapshot %s (no request uses it)", loaded.snapshot_id)

    def start_draining(self) -> None:
        """Shutting down: /readyz answers 503 from now on; requests are still answered."""
        if not self.draining:
            self.draining = True
            log.info("draining: /readyz answers 503; requests in flight finish")

    # -- opening (blocking; runs in a worker thread) --------------------------------------
    def open(self, target: Path) -> Loaded:
        """Open + verify ``target`` (sealed manifest, files, a passing gate report bound to the
        manifest), check the model pin and warm up; raises SnapshotError."""
        snapshot = open_snapshot(
            target, checksums=self._settings.verify_checksums, gates="passed"
        )
        try:
            encoder = self._encoder_factory(snapshot)
            where = f"snapshot {snapshot.snapshot_id}"
            check_pin(snapshot.manifest.model, encoder, where=where)
            engine = SearchEngine(snapshot, encoder, queries=self._query_cache(encoder))
            warm_up(engine)
            shown = public_info(
                snapshot.manifest, snapshot.gate_report(), show_paths=self._settings.show_paths
            )
            loaded_at = _now()
            info = {"snapshot_id": snapshot.snapshot_id, "loaded_at": loaded_at, **shown}
            body = json.dumps(info, separators=(",", ":")).encode()
        except BaseException:
            snapshot.close()
            raise
        release_free_memory()
        return Loaded(snapshot, engine, target, loaded_at, body)

    def _query_cache(self, encoder: Encoder) -> QueryEmbeddings:
        """One query-embedding cache while the model stays the same: warm across swaps."""
        queries = self._queries
        if queries is None or queries.encoder is None or (
            queries.encoder.pin.fingerprint != encoder.pin.fingerprint
        ):
            queries = QueryEmbeddings(encoder, self._settings.query_cache, self._query_stats)
            self._queries = queries
        return queries

    def load_initial(self) -> Loaded:
        """Load what ``current`` points at; any SnapshotError means the server must not start."""
        loaded = self.open(resolve_current(self._settings.root))
        self._install(loaded)
        log.info("serving snapshot %s from %s", loaded.snapshot_id, loaded.target)
        return loaded

    def _install(self, loaded: Loaded) -> Loaded | None:
        with self._leases:
            old, self._current = self._current, loaded
        m = loaded.snapshot.manifest
        self._metrics.set_snapshot(m.snapshot_id, m.model.model_id, m.built_at)
        return old

    # -- swapping (async) -----------------------------------------------------------------
    def start(self, tg: TaskGroup) -> None:
        self._tg = tg
        if self._settings.reload_poll_s > 0:
            tg.start_soon(self._poll, self._settings.reload_poll_s)

    async def _poll(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            try:
                await self.maybe_reload()
            except Exception:  # never let the poller die
                log.exception("snapshot reload check failed")

    async def maybe_reload(self) -> bool:
        """Switch to the snapshot ``current`` points at if it moved; True when switched.

        A snapshot that fails to open, verify or match the model is not served: the old one
        stays, the error is logged once, and that target is not retried until ``current``
        moves again.
        """
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            try:
                target = resolve_current(self._settings.root)
            except SnapshotError as exc:
                if not self._missing_logged:
                    log.warning("keeping the loaded snapshot: %s", exc)
                    self._missing_logged = True
                return False
            self._missing_logged = False
            current = self._current
            if current is not None and target == current.target:
                self._failed_target = None
                return False
            if target == self._failed_target:
                return False
            try:
                loaded = await anyio.to_thread.run_sync(self.open, target)
            except Exception as exc:
                self._failed_target = target
                self._metrics.reloads.labels("error").inc()
                self._metrics.rejected.labels(type(exc).__name__).inc()
                log.error(
                    "keeping snapshot %s: refusing %s: %s",
                    current.snapshot_id if current else None, target, exc,
                )
                return False
            self._failed_target = None
            old = self._install(loaded)
            self._metrics.reloads.labels("ok").inc()
            log.info(
                "switched snapshot %s -> %s",
                old.snapshot_id if old else None, loaded.snapshot_id,
            )
            if old is not None:
                await self._retire(old)
            return True

    async def _retire(self, old: Loaded) -> None:
        with self._leases:
            self._retiring.append(old)
        grace = self._settings.close_grace_s
        if self._tg is None or grace <= 0:
            await anyio.to_thread.run_sync(self._mark_retired, old)
        else:
            self._tg.start_soon(self._retire_later, old, grace)

    async def _retire_later(self, old: Loaded, grace: float) -> None:
        await anyio.sleep(grace)
        await anyio.to_thread.run_sync(self._mark_retired, old)

    def _mark_retired(self, old: Loaded) -> None:
        """Past any delay: close it now if no request uses it, else on its last release."""
        with self._leases:
            old.retired = True
            close = self._take_for_closing(old)
        if close:
            self.close_retired(old)
        else:
            log.info("snapshot %s stays open for %d request(s) in flight", old.snapshot_id,
                     old.leases)

    def close(self) -> None:
        """At shutdown: close what no request uses; a snapshot still leased (a request the
        server gave up waiting for) is closed on its last release."""
        with self._leases:
            current, self._current = self._current, None
            if current is not None:
                self._retiring.append(current)
            pending = list(self._retiring)
        for loaded in pending:
            self._mark_retired(loaded)
