"""Memory and throughput of ``snapsearch serve --workers N`` on a published store.

For each N: the server as a process, ready (every worker answering), then RSS and PSS (shared
pages split between the processes that map them) of the supervisor and of each worker, and
HTTP hybrid searches from ``concurrency`` clients on loopback for ``seconds``: requests per
second and p50/p99. Each extra worker's cost is the growth of the total from N - 1 to N.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from eval.metrics import percentile

Log = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS of one process (MB), from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            out[key.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
    return out


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _is_worker(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in cmd


def _load(base: str, queries: list[str], clients: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        nonlocal errors
        rnd = random.Random(i)
        with httpx.Client(base_url=base, timeout=30) as c:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = c.post("/v1/search", json={"query": rnd.choice(queries), "limit": 10})
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    errors += r.status_code != 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests": len(lat), "errors": errors, "qps": round(len(lat) / seconds, 1),
            "p50_ms": round(percentile(lat, 50), 2), "p99_ms": round(percentile(lat, 99), 2)}


def measure_workers(
    root: Path, queries: list[str], counts: list[int], *, clients: int = 8,
    seconds: float = 15.0, log: Log = print,
) -> list[dict[str, Any]]:
    rows = []
    for n in counts:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SNAPSEARCH_ROOT": str(root),
               "SNAPSEARCH_PORT": str(port), "SNAPSEARCH_WORKERS": str(n),
               "SNAPSEARCH_RELOAD_POLL_S": "0", "SNAPSEARCH_LOG_LEVEL": "warning",
               "SNAPSEARCH_SHUTDOWN_DRAIN_S": "0"}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            workers = _wait_workers(proc, base, n)
            ready_s = time.perf_counter() - t0
            for q in queries:  # every worker sees every query once before measuring
                for _ in range(n):
                    httpx.post(f"{base}/v1/search", json={"query": q, "limit": 10}, timeout=60)
            memory = {str(pid): _memory_mb(pid) for pid in workers}
            supervisor = _memory_mb(proc.pid)
            log(f"{n} worker(s): ready in {ready_s:.1f} s; load for {seconds:.0f} s")
            load = _load(base, queries, clients, seconds)
        finally:
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        rows.append({
            "workers": n, "ready_s": round(ready_s, 2), "supervisor": supervisor,
            "per_worker": memory,
            "total_rss_mb": _total(supervisor, memory, "rss_mb", n),
            "total_pss_mb": _total(supervisor, memory, "pss_mb", n),
            "worker_rss_mb_mean": round(sum(m["rss_mb"] for m in memory.values()) / n, 1),
            "worker_pss_mb_mean": round(sum(m["pss_mb"] for m in memory.values()) / n, 1),
            "http": load, "clients": clients,
        })
    for prev, row in zip(rows, rows[1:], strict=False):
        extra = row["workers"] - prev["workers"]
        for key in ("rss", "pss"):
            grew = row[f"total_{key}_mb"] - prev[f"total_{key}_mb"]
            row[f"{key}_per_extra_worker_mb"] = round(grew / extra, 1)
    return rows


def _total(supervisor: dict[str, float], workers: dict[str, dict[str, float]], key: str,
           n: int) -> float:
    """One process serves alone (n = 1); else the supervisor and its workers."""
    if n == 1:
        return supervisor[key]
    return round(supervisor[key] + sum(m[key] for m in workers.values()), 1)


def _wait_workers(
    proc: subprocess.Popen[str], base: str, n: int, timeout: float = 300
) -> list[int]:
    """The worker pids once the server answers (all of them loaded: each /readyz is served by
    whichever worker accepts, so wait until n distinct processes exist and a quiet second of
    200s has passed)."""
    deadline = time.monotonic() + timeout
    ok_since = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.communicate()[1][-2000:]}")
        workers = [p for p in _children(proc.pid) if _is_worker(p)] if n > 1 else [proc.pid]
        try:
            ok = httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            ok = False
        if ok and len(workers) >= n:
            ok_since = ok_since or time.monotonic()
            if time.monotonic() - ok_since > 1.0 and all(
                _ready_listening(base) for _ in range(4 * n)
            ):
                return workers
        else:
            ok_since = None
        time.sleep(0.2)
    raise RuntimeError("the workers did not become ready")


def _ready_listening(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def print_workers(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'workers':>8}{'ready s':>9}{'RSS MB':>9}{'PSS MB':>9}{'worker RSS':>12}"
          f"{'worker PSS':>12}{'+RSS/extra':>12}{'+PSS/extra':>12}{'QPS':>8}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'errors':>8}")
    for r in rows:
        h = r["http"]
        print(f"{r['workers']:>8}{r['ready_s']:>9.1f}{r['total_rss_mb']:>9.0f}"
              f"{r['total_pss_mb']:>9.0f}{r['worker_rss_mb_mean']:>12.0f}"
              f"{r['worker_pss_mb_mean']:>12.0f}{r.get('rss_per_extra_worker_mb', 0):>12.0f}"
              f"{r.get('pss_per_extra_worker_mb', 0):>12.0f}{h['qps']:>8.1f}"
              f"{h['p50_ms']:>9.2f}{h['p99_ms']:>9.2f}{h['errors']:>8}")
