"""Running the server: one process, or a supervisor with N worker processes on one socket.

Shutdown on SIGTERM (what process managers and orchestrators send): ``/readyz`` answers 503 at
once and every response says ``Connection: close`` (``serve.lifecycle``) while requests are still
served for ``shutdown_drain_s``, so load balancers stop sending and clients leave their kept-alive
connections between requests; then the server stops accepting, requests in flight get
``shutdown_grace_s`` to finish, and the process exits 0. A second SIGTERM ends the drain early.
SIGINT (Ctrl-C) skips the drain; a second one forces the exit.

``--workers N``: the supervisor binds the socket and spawns N processes that each load the
snapshot read-only and accept on it (the kernel spreads connections); it restarts a worker that
dies, passes SIGTERM/SIGINT on and waits for the workers, and exits 0 when all of them did. A
worker that cannot load the snapshot stops them all (exit 1, as a single process refusing to
start would).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from snapsearch.settings import ServeSettings

from .app import create_app
from .holder import SnapshotHolder
from .logging import SERVE_LOGGER, configure_logging

log = logging.getLogger(SERVE_LOGGER)
AppFactory = Callable[[ServeSettings], Starlette]
STARTUP_FAILURE = 3  # a worker's exit status when its app refused to start (uvicorn's)
WORKER_RESTART_PAUSE_S = 1.0


def default_app(settings: ServeSettings) -> Starlette:
    """The server for these settings (queries encoded by the encoder each snapshot carries)."""
    return create_app(settings)


def uvicorn_options(settings: ServeSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "lifespan": "on",
        "access_log": False,  # snapsearch.access writes one structured line per request
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


class DrainingServer(uvicorn.Server):
    """uvicorn's server, draining first on SIGTERM and exiting 0 after a graceful shutdown."""

    def __init__(self, config: uvicorn.Config, holder: SnapshotHolder | None, drain_s: float):
        super().__init__(config)
        self._holder = holder
        self._drain_s = drain_s
        self._drain_until: float | None = None
        self._drain_logged = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # a signal handler: set flags only (on_tick logs). The signal is not kept for
        # re-raising after the shutdown, as uvicorn does: that would end the process by the
        # signal instead of with status 0.
        if self._holder is not None:
            self._holder.draining = True
        if sig == signal.SIGTERM and self._drain_until is None and not self.should_exit:
            self._drain_until = time.monotonic() + self._drain_s
        elif sig == signal.SIGINT and self.should_exit:
            self.force_exit = True
        else:
            self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and not self._drain_logged:
            # logged even when a second SIGTERM already ended the drain before this tick
            self._drain_logged = True
            log.info("SIGTERM: draining for %.1f s (/readyz answers 503, requests are "
                     "still served)", self._drain_s)
        if self._drain_until is not None and not self.should_exit:
            if time.monotonic() >= self._drain_until:
                log.info("drained: no longer accepting; waiting for requests in flight")
                self.should_exit = True
        return await super().on_tick(counter)


def serve_app(
    app: Starlette, settings: ServeSettings, sockets: list[socket.socket] | None = None
) -> bool:
    """Serve ``app`` until a signal stops it; False when it refused to start."""
    holder = getattr(app.state, "holder", None)
    server = DrainingServer(
        uvicorn.Config(app, **uvicorn_options(settings)),
        holder if isinstance(holder, SnapshotHolder) else None,
        settings.shutdown_drain_s,
    )
    server.run(sockets=sockets)
    return server.started


def run(settings: ServeSettings, app_factory: AppFactory = default_app) -> int:
    """Serve ``<settings.root>/current`` until stopped; the process's exit status."""
    configure_logging(settings.log_level)
    log.info(
        "serving %s at http://%s:%d%s", settings.root / "current", settings.host, settings.port,
        f" with {settings.workers} workers" if settings.workers > 1 else "",
    )
    if settings.workers <= 1:
        return 0 if serve_app(app_factory(settings), settings) else STARTUP_FAILURE
    return Supervisor(settings, app_factory).run()


# -- several worker processes --------------------------------------------------------------


def _worker(settings: ServeSettings, app_factory: AppFactory, sock: socket.socket) -> None:
    """A worker process: its own app (its own snapshot, read-only) on the shared socket."""
    configure_logging(settings.log_level)
    started = serve_app(app_factory(settings), settings, sockets=[sock])
    sys.exit(0 if started else STARTUP_FAILURE)


class Supervisor:
    def __init__(self, settings: ServeSettings, app_factory: AppFactory) -> None:
        self.settings = settings
        self.app_factory = app_factory
        self.workers: list[SpawnProcess] = []
        self.stop_signal: int | None = None

    def _bind(self) -> socket.socket:
        config = uvicorn.Config(None, host=self.settings.host, port=self.settings.port)  # type: ignore[arg-type]
        return config.bind_socket()

    def _spawn(self, sock: socket.socket) -> SpawnProcess:
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_worker, args=(self.settings, self.app_factory, sock),
                           name="snapsearch-worker")
        proc.start()
        log.info("started worker %d", proc.pid)
        return proc

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        """The first signal drains the workers (SIGTERM: a Ctrl-C also reached them from the
        terminal), the next ones hurry them (SIGINT)."""
        first = self.stop_signal is None
        if first:
            self.stop_signal = sig
        for proc in self.workers:
            if proc.pid is not None and proc.exitcode is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM if first else signal.SIGINT)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        multiprocessing.allow_connection_pickling()
        sock = self._bind()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.workers = [self._spawn(sock) for _ in range(self.settings.workers)]
            status = self._watch(sock)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            sock.close()
        return status

    def _watch(self, sock: socket.socket) -> int:
        while self.stop_signal is None:
            time.sleep(0.2)
            for i, proc in enumerate(self.workers):
                if proc.exitcode is None or self.stop_signal is not None:
                    continue
                if proc.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start: stopping every worker", proc.pid)
                    self._on_signal(signal.SIGTERM, None)
                    self._join()
                    return 1
                log.error("worker %d died (status %s): starting another", proc.pid,
                          proc.exitcode)
                time.sleep(WORKER_RESTART_PAUSE_S)
                self.workers[i] = self._spawn(sock)
        return self._join()

    def _join(self) -> int:
        limit = self.settings.shutdown_drain_s + self.settings.shutdown_grace_s + 10
        deadline = time.monotonic() + limit
        for proc in self.workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.error("worker %d still running %.0f s after the signal: killing it",
                          proc.pid, limit)
                proc.kill()
                proc.join()
        bad = [p.exitcode for p in self.workers if p.exitcode != 0]
        log.info("workers stopped%s", f" (statuses {bad})" if bad else "")
        return 0 if not bad else 1
