"""Running the server: one process, or a supervisor with N worker processes on one socket.

Shutdown on SIGTERM (what process managers and orchestrators send): ``/readyz`` answers 503 at
once and every response says ``Connection: close`` (``serve.lifecycle``) while requests are still
served for ``shutdown_drain_s``, so load balancers stop sending and clients leave their kept-alive
connections between requests; then the server stops accepting, requests in flight get
``shutdown_grace_s`` to finish, and the process exits 0. A second SIGTERM ends the drain early.
SIGINT (Ctrl-C) skips the drain; a second one forces the exit.

``--workers N``: the supervisor (``serve.supervisor``, a small process importing none of the
app) binds the socket and spawns N processes that each load the snapshot read-only and accept on
it (the kernel spreads connections); it restarts a worker that dies, passes SIGTERM/SIGINT on and
waits for the workers, and exits 0 when all of them did. A worker that cannot load the snapshot
stops them all (exit 1, as a single process refusing to start would). Each worker runs
``worker`` here.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from snapsearch.settings import ServeSettings

from .app import create_app
from .holder import SnapshotHolder
from .logging import SERVE_LOGGER, configure_logging
from .supervisor import STARTUP_FAILURE, Supervisor, announce, plan

log = logging.getLogger(SERVE_LOGGER)
AppFactory = Callable[[ServeSettings], Starlette]


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
    announce(str(settings.root / "current"), settings.host, settings.port, settings.workers)
    if settings.workers <= 1:
        return 0 if serve_app(app_factory(settings), settings) else STARTUP_FAILURE
    return supervise(settings, app_factory)


# -- several worker processes (serve.supervisor) -------------------------------------------


WORKER = "serve.runner:worker"  # what each worker process runs, by name (serve.supervisor)


def supervise(settings: ServeSettings, app_factory: AppFactory = default_app) -> int:
    """Serve with ``settings.workers`` processes supervised from this one (its modules stay
    loaded here; ``python -m serve`` execs a small supervisor instead: ``serve.__main__``)."""
    return Supervisor(plan(settings, WORKER, settings, app_factory)).run()


def worker(sock: socket.socket, settings: ServeSettings,
           app_factory: AppFactory = default_app) -> None:
    """A worker process: its own app (its own snapshot, read-only) on the shared socket."""
    configure_logging(settings.log_level)
    started = serve_app(app_factory(settings), settings, sockets=[sock])
    sys.exit(0 if started else STARTUP_FAILURE)
