"""The server as a process: SIGTERM drains (/readyz 503 first, kept-alive clients told to leave,
requests in flight finished) and exits 0; several workers share one socket and stop together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, root: Path, module: str = "tests.serve.slow_app", **settings: object):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SNAPSEARCH_ENCODER": "hashing", "SNAPSEARCH_ROOT": str(root),
               "SNAPSEARCH_PORT": str(self.port), "SNAPSEARCH_RELOAD_POLL_S": "0",
               "PYTHONPATH": str(REPO), "SLOW_S": "4"}
        env.update({f"SNAPSEARCH_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.communicate(timeout=30)[1]


@pytest.fixture
def start(store: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    def make(*args: object, **kw: object) -> Server:
        server = Server(store, *args, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in started:
        server.stop()


def test_sigterm_drains_finishes_requests_in_flight_and_exits_0(start: type[Server]) -> None:
    """Issue 11 finding 7: /readyz turns 503 before the server stops accepting, requests in
    flight finish, clients on kept-alive connections are told to leave (never reset), exit 0.
    The drain is long here and a second SIGTERM ends it, so a slow machine cannot race it."""
    server = start(shutdown_drain_s=60, shutdown_grace_s=30)
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=60) as kept, ThreadPoolExecutor(2) as pool:
        assert kept.get("/readyz").status_code == 200  # a kept-alive connection
        slow = pool.submit(kept.post, "/v1/search", json={"query": "slow resistor"})
        time.sleep(0.5)  # the slow search is in flight (4 s)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := kept.get("/readyz")).status_code == 200:  # soon 503, still accepting
            assert time.monotonic() < deadline, "/readyz never turned 503"
            time.sleep(0.05)
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "shutting_down"
        assert ready.headers["connection"] == "close"  # clients are told to move on
        during = kept.post("/v1/search", json={"query": "resistor"})  # still answered
        assert during.status_code == 200 and during.headers["connection"] == "close"

        server.proc.send_signal(signal.SIGTERM)  # ends the drain: stop accepting now
        r = slow.result(timeout=60)  # started before the first signal: finished, not cut
        assert r.status_code == 200, r.text
        assert r.json()["hits"]
        assert server.proc.wait(timeout=30) == 0
    assert time.monotonic() - t0 < 30
    err = server.stop()
    assert "draining" in err and "Application shutdown complete" in err


def test_workers_share_the_socket_and_stop_together_on_sigterm(start: type[Server]) -> None:
    server = start(module="serve", workers=2, shutdown_drain_s=0.2)
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(10):
            assert client.post("/v1/search", json={"query": "resistor"}).status_code == 200
    supervisor = Path(f"/proc/{server.proc.pid}")
    # the same pid, now the small supervisor: none of the app's libraries mapped
    assert b"serve.supervisor" in (supervisor / "cmdline").read_bytes()
    maps = (supervisor / "maps").read_text()
    for library in ("numpy", "pydantic_core", "onnxruntime", "uvloop", "httptools"):
        assert library not in maps, library
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    err = server.stop()
    pids = started_workers(err)
    assert len(pids) == 2, err
    for pid in pids:  # gone with the supervisor
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text().lower()


def started_workers(log: str) -> list[str]:
    return [line.split("started worker ")[1].split('"')[0] for line in log.splitlines()
            if "started worker " in line]


def test_a_dead_worker_is_replaced(start: type[Server]) -> None:
    server = start(module="serve", workers=2, shutdown_drain_s=0.2)
    server.wait_ready()
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    workers = [int(p) for p in children.read_text().split()
               if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:  # another worker, not the survivor alone, answers again
        now = [int(p) for p in children.read_text().split()
               if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        if len(now) == 2 and workers[0] not in now:
            break
        assert time.monotonic() < deadline, "no worker replaced the dead one"
        time.sleep(0.2)
    server.wait_ready()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    err = server.stop()
    assert f"worker {workers[0]} died" in err
    assert len(started_workers(err)) == 3, err


def test_workers_of_a_custom_app_factory(start: type[Server]) -> None:
    """``serve.runner.run(settings, app_factory)`` supervises from its own process: each worker
    builds the app of the factory given (here searches starting with "slow" take SLOW_S)."""
    server = start(workers=2, shutdown_drain_s=0.2)
    server.wait_ready()
    t0 = time.monotonic()
    r = httpx.post(f"{server.url}/v1/search", json={"query": "slow resistor"}, timeout=30)
    assert r.status_code == 200 and time.monotonic() - t0 >= 4  # SLOW_S: the factory's app
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=60) == 0
    assert len(started_workers(server.stop())) == 2


def test_workers_refuse_to_start_without_a_snapshot(tmp_path: Path) -> None:
    server = Server(tmp_path / "empty", module="serve", workers=2)
    try:
        assert server.proc.wait(timeout=90) == 1
    finally:
        err = server.stop()
    assert "could not start" in err
