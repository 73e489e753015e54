"""The supervisor of ``--workers N``: binds the socket, spawns N worker processes that accept on
it, restarts a worker that dies, passes SIGTERM/SIGINT on and waits for the workers.

It is kept small on purpose: this module imports the standard library and ``serve.logging``
only, never the app (uvicorn, starlette, numpy, the engine, the settings' pydantic). What each
worker runs is named, not imported: a ``"module:function"`` called in the worker process as
``function(sock, *args)``, with ``args`` pickled by whoever planned the run and unpickled only in
the worker (``serve.runner.worker``, the app's worker, is the usual one).

``python -m serve`` and ``snapsearch serve`` with several workers validate the settings, then
replace their own process (same pid, so a process manager's signals still reach it) with
``python -m serve.supervisor`` (``exec_supervisor``), which reads its plan from an inherited file
and imports none of what loading the settings did: each extra worker costs the worker alone.
``serve.runner.run`` with a custom app factory supervises in its own process instead.

Exit status: 0 when every worker stopped cleanly after a signal; 1 when a worker could not start
(every worker is stopped) or one did not stop cleanly; 3 when the socket cannot be bound.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import NamedTuple, NoReturn, Protocol

from .logging import SERVE_LOGGER, configure_logging

log = logging.getLogger(SERVE_LOGGER)
STARTUP_FAILURE = 3  # a worker's exit status when its app refused to start (uvicorn's)
WORKER_RESTART_PAUSE_S = 1.0


class SupervisedSettings(Protocol):
    """What the supervisor reads of ``ServeSettings`` (not imported here: it loads pydantic)."""

    @property
    def root(self) -> os.PathLike[str]: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def shutdown_drain_s(self) -> float: ...
    @property
    def shutdown_grace_s(self) -> float: ...
    @property
    def log_level(self) -> str: ...


class Plan(NamedTuple):
    """Everything the supervisor needs, in plain values; the workers' own arguments opaque."""

    serving: str  # the directory served, for the log
    host: str
    port: int
    workers: int
    shutdown_drain_s: float
    shutdown_grace_s: float
    log_level: str
    worker: str  # "module:function", called in each worker process as function(sock, *args)
    worker_args: bytes  # pickle of args, unpickled only in the worker


def plan(settings: SupervisedSettings, worker: str, *args: object) -> Plan:
    """The plan for serving ``settings`` with ``settings.workers`` processes running ``worker``."""
    return Plan(
        serving=os.path.join(os.fspath(settings.root), "current"), host=settings.host,
        port=settings.port, workers=settings.workers, shutdown_drain_s=settings.shutdown_drain_s,
        shutdown_grace_s=settings.shutdown_grace_s, log_level=settings.log_level, worker=worker,
        worker_args=pickle.dumps(args),
    )


def announce(serving: str, host: str, port: int, workers: int) -> None:
    log.info("serving %s at http://%s:%d%s", serving, host, port,
             f" with {workers} workers" if workers > 1 else "")


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (bound as uvicorn binds it; they listen)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.error("cannot listen at %s port %d: %s", host, port, exc)
        sys.exit(STARTUP_FAILURE)
    sock.set_inheritable(True)
    return sock


def _worker_main(worker: str, worker_args: bytes, sock: socket.socket) -> None:
    """A worker process's target: import the worker function by name and run it."""
    module, _, name = worker.partition(":")
    function = getattr(importlib.import_module(module), name)
    function(sock, *pickle.loads(worker_args))


class Supervisor:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.workers: list[SpawnProcess] = []
        self.stop_signal: int | None = None

    def _spawn(self, sock: socket.socket) -> SpawnProcess:
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_worker_main,
                           args=(self.plan.worker, self.plan.worker_args, sock),
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
        sock = bind_socket(self.plan.host, self.plan.port)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.workers = [self._spawn(sock) for _ in range(self.plan.workers)]
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
        limit = self.plan.shutdown_drain_s + self.plan.shutdown_grace_s + 10
        deadline = time.monotonic() + limit
        for proc in self.workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.error("worker %d still running %.0f s after the signal: killing it",
                          proc.pid, limit)
                proc.kill()
                proc.join()
        # a worker still starting when the signal came (no handler of uvicorn's yet, so nothing
        # it could be serving) ends by the SIGTERM we sent it: a clean stop too
        clean = {0, -signal.SIGTERM} if self.stop_signal is not None else {0}
        bad = [p.exitcode for p in self.workers if p.exitcode not in clean]
        log.info("workers stopped%s", f" (statuses {bad})" if bad else "")
        return 0 if not bad else 1


# -- the supervisor as its own small process -----------------------------------------------


def exec_supervisor(plan: Plan) -> NoReturn:
    """Become ``python -m serve.supervisor`` running ``plan`` (this process's pid, stdio,
    environment and interpreter flags; none of its modules). The plan travels in an unlinked
    temporary file whose descriptor the new program inherits: not in argv (``ps`` shows that) nor
    in the environment (the workers would inherit it)."""
    import site
    import subprocess
    import tempfile

    carrier = tempfile.TemporaryFile()
    pickle.dump(plan, carrier)
    carrier.flush()
    carrier.seek(0)
    os.set_inheritable(carrier.fileno(), True)
    env = dict(os.environ)
    # the same `serve` package: a source checkout (not an installed copy, which any interpreter
    # of this environment finds) goes first on the new program's path
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = {os.path.abspath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if here not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    # -X, -W, -B, -I...: the interpreter flags this process runs with (as multiprocessing passes
    # them on); the private helper is not in the type stubs
    flags: Callable[[], list[str]] = getattr(subprocess, "_args_from_interpreter_flags", list)
    argv = [sys.executable, *flags(), "-m", "serve.supervisor", str(carrier.fileno())]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def main(argv: list[str] | None = None) -> int:
    """``python -m serve.supervisor FD``: run the plan read from descriptor FD."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m serve.supervisor FD (started by `python -m serve` with "
              "SNAPSEARCH_WORKERS above 1, not by hand)", file=sys.stderr)
        return 2
    with os.fdopen(int(args[0]), "rb") as carrier:
        the_plan = pickle.load(carrier)
    if not isinstance(the_plan, Plan):
        print(f"error: descriptor {args[0]} holds no supervisor plan", file=sys.stderr)
        return 2
    configure_logging(the_plan.log_level)
    announce(the_plan.serving, the_plan.host, the_plan.port, the_plan.workers)
    return Supervisor(the_plan).run()


if __name__ == "__main__":
    # the module proper, not this __main__ copy, so that pickled references name serve.supervisor
    from serve.supervisor import main as supervisor_main

    sys.exit(supervisor_main())
