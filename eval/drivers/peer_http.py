"""`snapsearch serve` over loopback HTTP: spawn -> first answer, RSS, and p50/p95/QPS at several
concurrencies. Each concurrency gets a fresh server (so no query is answered from the
query-embedding cache a previous level filled, and every level adds a cold-start sample)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from eval.drivers.peer_process import PeerError, peer_env, tail
from eval.drivers.peer_report import median
from eval.drivers.peer_worker import rss_mb
from eval.metrics import percentile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`snapsearch serve --root STORE` as a subprocess, stopped with SIGINT on exit."""

    def __init__(self, store: Path, log_path: Path, first_query: str, timeout_s: float = 300):
        self.store, self.log_path, self.first_query = store, log_path, first_query
        self.timeout_s = timeout_s
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServeProcess:
        exe = Path(sys.executable).with_name("snapsearch")
        env = peer_env({"SNAPSEARCH_RELOAD_POLL_S": "0"})
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._err = open(self.log_path, "ab")  # closed in __exit__
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--root", str(self.store), "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=self._err,
        )
        body = {"query": self.first_query, "limit": 10, "mode": "hybrid"}
        with httpx.Client(timeout=30.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise PeerError(f"snapsearch serve exited ({self.proc.returncode}): "
                                    f"{tail(self.log_path)!r}")
                if time.perf_counter() - t0 > self.timeout_s:
                    raise PeerError(f"snapsearch serve gave no answer in {self.timeout_s:.0f} s")
                try:
                    if client.post(f"{self.base}/v1/search", json=body).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        self.first_answer_s = time.perf_counter() - t0
        self.rss_ready_mb = rss_mb(pid=self.proc.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


async def _load(base: str, queries: list[str], concurrency: int) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    todo = iter(queries)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=limits) as client:
        async def one_client() -> None:
            nonlocal errors
            for q in todo:
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/search",
                                          json={"query": q[:512], "limit": 10, "mode": "hybrid"})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append((time.perf_counter() - t) * 1000)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"requests": len(lat), "errors": errors, "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2), "qps": round(len(lat) / wall, 1),
            "wall_s": round(wall, 2)}


def serve_bench(store: Path, queries: list[str], levels: tuple[int, ...], log_dir: Path,
                log=print) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Each query once per level (hybrid, k = 10), a fresh server per level."""
    out: dict[str, Any] = {"levels": {}, "cold_start_s_each": [], "rss_ready_mb_each": []}
    for c in levels:
        with ServeProcess(store, log_dir / "serve.log", queries[0]) as srv:
            out["cold_start_s_each"].append(round(srv.first_answer_s, 3))
            out["rss_ready_mb_each"].append(round(srv.rss_ready_mb, 1))
            log(f"  serve: first answer {srv.first_answer_s:.2f} s; concurrency {c}")
            level = asyncio.run(_load(srv.base, queries, c))
            level["rss_after_mb"] = round(rss_mb(pid=srv.proc.pid), 1)
            out["levels"][str(c)] = level
    out["cold_start_s"] = round(median(out["cold_start_s_each"]), 3)
    out["rss_ready_mb"] = round(median(out["rss_ready_mb_each"]), 1)
    out["note"] = ("loopback; the load generator (httpx, asyncio) shares the machine's cores "
                   "with the server")
    return out
