"""The cutover drill: steady load on a real server while ``current`` moves, publish and rollback
alternating; every request must be answered 200 with the results of the old or the new snapshot.

Two snapshots A and B of different records are built (through the pipeline code, real gates
with latency budgets lifted: the drill is not a latency gate) and A published; ``snapsearch
serve`` runs as a process on loopback, polling ``current`` every ``poll_s``. ``clients``
threads, each on its own kept-alive connection, send hybrid searches from a fixed list; first
``steady_s`` seconds without moves, then ``cutovers`` moves ``interval_s`` apart (publish B,
roll back to A, ...). Each answer is checked against the results an in-process engine gives
for the snapshot the answer names. p50/p99 steady, during the cutovers, and within a second of
a move; the server's own counters at the end (swaps made, snapshots still open: 0 expected).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eval.metrics import percentile
from pipelines.fetch import fetch_source
from pipelines.publish import publish, rollback
from pipelines.transform.build import CollectionSpec, build_options, build_snapshot
from pipelines.validate.gates import run_gates
from snapsearch.format.model import Encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import SearchRequest
from snapsearch.settings import SAMPLE_SOURCE, GateSettings, PipelineSettings

Log = Callable[[str], None]
QUERIES = [
    "10k 0402 resistor 1%", "100nF 0603 capacitor", "resistor", "capacitor 25V", "LED 0603",
    "USB type C connector", "3.3V LDO", "MOSFET N-channel SOT-23", "crystal 12MHz",
    "schottky diode", "ferrite bead 0603", "op amp", "C25744", "tantalum capacitor",
    "zener diode", "header 2.54mm", "inductor 10uH", "TVS diode", "1k resistor 0805", "buzzer",
]
LIMIT = 10


@dataclass(frozen=True)
class Answer:
    started: float  # seconds since the load started
    ms: float
    ok: bool
    error: str | None  # what was wrong, when not ok
    snapshot_id: str | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_pair(root: Path, encoder: Encoder, records: int, log: Log = print) -> tuple[str, str]:
    """Two gated snapshots of different records from the bundled sample; A is published."""
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    anchor = [x for x in lines if json.loads(x)["lcsc"] == "C25744"]
    settings = PipelineSettings()
    gates = GateSettings(latency_p50_ms=1e9, latency_p95_ms=1e9, hit1_min=0, hit10_min=0,
                         mrr_min=0)
    ids = []
    for name, part in (("a", lines[:records]), ("b", lines[records : 2 * records])):
        src = root.parent / f"drill-source-{name}" / "parts.jsonl"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text("".join(part + [x for x in anchor if x not in part]), encoding="utf-8")
        raw = fetch_source(str(src), root)
        built = build_snapshot(root, [CollectionSpec("parts", "parts", raw)], encoder,
                               build_options(settings))
        report = run_gates(built.path, encoder, gates, suite_path=None)
        if not report.passed:
            raise RuntimeError(f"drill snapshot {built.snapshot_id} failed its gates: {report}")
        log(f"built {built.snapshot_id} ({built.records} records)")
        ids.append(built.snapshot_id)
    publish(root, ids[0], retention=10)
    return ids[0], ids[1]


def expected_ids(root: Path, snapshot_ids: tuple[str, ...], encoder: Encoder,
                 queries: list[str]) -> dict[str, dict[str, list[str]]]:
    """snapshot id -> query -> the ids an in-process engine answers (what the server must)."""
    out: dict[str, dict[str, list[str]]] = {}
    for sid in snapshot_ids:
        with open_snapshot(root / sid) as snap:
            engine = SearchEngine(snap, encoder)
            out[sid] = {q: [h.id for h in engine.search(SearchRequest(query=q, limit=LIMIT)).hits]
                        for q in queries}
    return out


class Load:
    """``clients`` threads sending searches until stopped; every answer recorded."""

    def __init__(self, base: str, clients: int, expected: dict[str, dict[str, list[str]]],
                 queries: list[str]) -> None:
        self.base = base
        self.expected = expected
        self.queries = queries
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.t0 = time.perf_counter()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(clients)]

    def start(self) -> None:
        self.t0 = time.perf_counter()
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _client(self, i: int) -> None:
        rnd = random.Random(i)
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self._stop.is_set():
                query = rnd.choice(self.queries)
                started = time.perf_counter()
                answer = self._one(client, query, started)
                with self._lock:
                    self.answers.append(answer)

    def _one(self, client: httpx.Client, query: str, started: float) -> Answer:
        at = started - self.t0
        try:
            r = client.post("/v1/search", json={"query": query, "limit": LIMIT})
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            return Answer(at, ms, False, f"{type(exc).__name__}: {exc}", None)
        ms = (time.perf_counter() - started) * 1000
        if r.status_code != 200:
            return Answer(at, ms, False, f"HTTP {r.status_code}: {r.text[:200]}", None)
        body = r.json()
        sid = body.get("snapshot_id")
        want = self.expected.get(sid, {}).get(query)
        got = [h["id"] for h in body.get("hits", [])]
        if want is None:
            return Answer(at, ms, False, f"answered from unknown snapshot {sid}", sid)
        if got != want:
            return Answer(at, ms, False, f"{query!r} on {sid}: {got} != {want}", sid)
        return Answer(at, ms, True, None, sid)


def _spread(answers: list[Answer]) -> dict[str, Any]:
    ms = [a.ms for a in answers]
    if not ms:
        return {"requests": 0}
    return {"requests": len(ms), "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def run_drill(
    *, encoder: Encoder, backend: str, cutovers: int = 100, interval_s: float = 1.0,
    clients: int = 8, steady_s: float = 10.0, close_grace_s: float = 0.0, poll_s: float = 0.1,
    workers: int = 1, records: int = 1500, work: Path | None = None, log: Log = print,
) -> dict[str, Any]:
    """Run the drill (module docstring); the figures, with ``failures`` (must be 0)."""
    tmp = Path(tempfile.mkdtemp(prefix="snapsearch-drill-")) if work is None else work
    root = tmp / "store"
    a, b = build_pair(root, encoder, records, log=log)
    expected = expected_ids(root, (a, b), encoder, QUERIES)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SNAPSEARCH_ROOT": str(root), "SNAPSEARCH_PORT": str(port),
           "SNAPSEARCH_ENCODER": backend, "SNAPSEARCH_RELOAD_POLL_S": str(poll_s),
           "SNAPSEARCH_CLOSE_GRACE_S": str(close_grace_s), "SNAPSEARCH_WORKERS": str(workers),
           "SNAPSEARCH_LOG_LEVEL": "warning", "SNAPSEARCH_SHUTDOWN_DRAIN_S": "0"}
    server = subprocess.Popen([sys.executable, "-m", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    moves: list[float] = []
    load = Load(base, clients, expected, QUERIES)
    try:
        _wait_ready(base, server)
        log(f"steady load: {clients} clients for {steady_s:.0f} s")
        load.start()
        time.sleep(steady_s)
        log(f"{cutovers} cutovers, {interval_s} s apart (close delay {close_grace_s} s)")
        for i in range(cutovers):
            moves.append(time.perf_counter() - load.t0)
            if i % 2 == 0:
                publish(root, b, retention=10)
            else:
                rollback(root)
            time.sleep(interval_s)
        time.sleep(max(1.0, 3 * poll_s))  # the last move is seen and answered from
        load.stop()
        try:
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
        except httpx.HTTPError as exc:  # the server died (a crash in libsqlite3, say)
            metrics = ""
            log(f"the server does not answer /metrics: {exc}")
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    answers = sorted(load.answers, key=lambda x: x.started)
    steady_end = moves[0] if moves else float("inf")
    near = [x for x in answers if any(0 <= x.started - m <= 1.0 for m in moves)]
    failures = [x for x in answers if not x.ok]
    served = [x.snapshot_id for x in answers if x.snapshot_id]
    switches = sum(1 for p, q in zip(served, served[1:], strict=False) if p != q)
    out: dict[str, Any] = {
        "cutovers": len(moves), "interval_s": interval_s, "clients": clients,
        "close_grace_s": close_grace_s, "poll_s": poll_s, "workers": workers,
        "encoder": backend, "records_per_snapshot": records, "snapshots": [a, b],
        "requests": len(answers), "failures": len(failures),
        "failure_examples": sorted({f.error or "" for f in failures})[:10],
        "answered_from": {sid: served.count(sid) for sid in (a, b)},
        "answer_switches": switches,
        "steady": _spread([x for x in answers if x.started < steady_end]),
        "during_cutovers": _spread([x for x in answers if x.started >= steady_end]),
        "within_1s_of_a_move": _spread(near),
        "server_swaps": _metric(metrics, 'snapsearch_snapshot_reloads_total{result="ok"}'),
        "server_refusals": _metric(metrics, 'snapsearch_snapshot_reloads_total{result="error"}'),
        "server_snapshots_retiring": _metric(metrics, "snapsearch_snapshots_retiring"),
        "server_exit": server.returncode,
        "server_errors": [line[:300] for line in (err or "").splitlines()
                          if '"level":"error"' in line or "Traceback" in line][:10],
    }
    return out


def _wait_ready(base: str, server: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.communicate()[1][-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def print_drill(f: dict[str, Any]) -> None:
    print(f"\ncutover drill: {f['cutovers']} cutovers {f['interval_s']} s apart, {f['clients']} "
          f"clients, close delay {f['close_grace_s']} s, {f['workers']} worker(s), "
          f"encoder {f['encoder']}")
    print(f"requests {f['requests']}, failures {f['failures']}, answers from "
          f"{f['answered_from']}, server swaps {f['server_swaps']:.0f}, snapshots still open "
          f"{f['server_snapshots_retiring']:.0f}, server exit {f['server_exit']}")
    print(f"{'phase':<22}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for key in ("steady", "during_cutovers", "within_1s_of_a_move"):
        s = f[key]
        if s["requests"]:
            print(f"{key:<22}{s['requests']:>10}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}"
                  f"{s['max_ms']:>10.2f}")
    for line in f["failure_examples"]:
        print(f"  failure: {line}")
    for line in f["server_errors"]:
        print(f"  server: {line}")
