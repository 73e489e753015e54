"""Crash drill with real processes: ``kill -9`` a real `snapsearch run` (and `snapsearch
rollback`) at every crash point, and at random moments; after each kill `current` and
`previous` must verify (every file's sha256, manifest, passed gates) and the next real
`snapsearch run` must succeed, repair the links and leave no leftover.

    python bench/crash_drill.py [--trials N] [--random N] [--records N] [--json PATH] [--list]

Runs use the hashing encoder, no quality suite and generous latency budgets (this measures
crash safety, not quality or speed) in a temporary store with its own Dagster instance.
Prints one row per point and writes JSON (default bench/out/crash-drill.json). Failures must
be 0; the exit code is 1 otherwise.
The in-process version of this sweep runs in the tests (tests/drills/test_crash.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipelines.publish import find_leftovers
from pipelines.publish.eligibility import passed_report
from snapsearch.format import links
from snapsearch.format.verify import verify_snapshot
from snapsearch.settings import SAMPLE_SOURCE

REPO = Path(__file__).resolve().parents[1]

RUNNER = REPO / "bench" / "fault_runner.py"
RUN_POINTS = [
    "fetch.written", "build.started", "build.encoded", "build.written", "build.sealed",
    "gates.judged", "gates.reported", "publish.locked", "links.previous_flipped",
    "links.current_flipped", "publish.logged", "retention.renamed", "retention.removed",
]
ROLLBACK_POINTS = ["rollback.locked", "links.previous_flipped", "links.current_flipped",
                   "rollback.logged"]
REACH_TIMEOUT_S = 600.0


class Drill:
    def __init__(self, work: Path, records: int) -> None:
        self.root = work / "store"
        self.source = work / "parts.jsonl"
        self.work = work
        self.lines = [ln for ln in gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") if ln.strip()]
        self.records = records
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SNAPSEARCH_", "DAGSTER_"))}
        self.env.update(SNAPSEARCH_ENCODER="hashing", HF_HUB_OFFLINE="1",
                        SNAPSEARCH_RETENTION="2", SNAPSEARCH_SUITE="none",
                        # crash safety is measured, not speed: a loaded machine's latency
                        # must not fail a run (issue 11 finding 11 is the latency gate's)
                        SNAPSEARCH_GATE_LATENCY_P50_MS="60000",
                        SNAPSEARCH_GATE_LATENCY_P95_MS="60000")
        self.n = 0

    def new_source(self) -> None:
        """Different raw bytes each time, so fetch writes and the build differs."""
        self.n += 1
        start = self.n % max(len(self.lines) - self.records, 1)
        self.source.write_text("".join(self.lines[start:start + self.records]), encoding="utf-8")

    def args(self, command: str) -> list[str]:
        if command == "run":
            return ["run", "--root", str(self.root), "--source", str(self.source), "--force"]
        return ["rollback", "--root", str(self.root)]

    def run(self, command: str = "run") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "snapsearch.cli", *self.args(command)],
                              capture_output=True, text=True, env=self.env, timeout=900)

    def kill_at(self, command: str, point: str) -> str:
        """Start the real command paused at ``point``; kill -9 it there. Returns 'killed', or
        why not."""
        marker = self.work / "reached"
        marker.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), point, f"pause:{marker}", *self.args(command)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.env,
        )
        deadline = time.monotonic() + REACH_TIMEOUT_S
        while not marker.exists():
            if proc.poll() is not None:
                return f"ended before the point (exit {proc.returncode}): " + (
                    (proc.stderr.read() if proc.stderr else "").strip().splitlines() or [""])[-1]
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return "never reached the point"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return "killed"

    def kill_after(self, seconds: float) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "snapsearch.cli", *self.args("run")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=self.env)
        try:
            proc.wait(timeout=seconds)
            return "finished first"
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return "killed"

    def sound(self) -> str | None:
        """None when current/previous verify in full and passed their gates; else why not."""
        try:
            current, previous = links.current_id(self.root), links.previous_id(self.root)
            if current is None:
                return "no current"
            for sid in {current, previous} - {None}:
                verify_snapshot(self.root / str(sid), checksums=True)
                passed_report(self.root, str(sid))
        except Exception as exc:  # noqa: BLE001 - a drill failure, reported
            return f"{type(exc).__name__}: {exc}"
        return None

    def clean(self) -> str | None:
        left = [str(p.relative_to(self.root)) for p in find_leftovers(self.root)]
        left += [str(p.relative_to(self.root)) for p in self.root.rglob("*.tmp")]
        if links.previous_id(self.root) == links.current_id(self.root):
            left.append("previous == current")
        return ", ".join(left) or None


def trial(drill: Drill, command: str, point: str | None, seconds: float = 0.0) -> dict[str, Any]:
    drill.new_source()
    t0 = time.monotonic()
    outcome = drill.kill_at(command, point) if point else drill.kill_after(seconds)
    row: dict[str, Any] = {"outcome": outcome, "kill_s": round(time.monotonic() - t0, 2)}
    row["after_kill"] = drill.sound()
    drill.new_source()
    nxt = drill.run()
    row["next_run"] = None if nxt.returncode == 0 else (nxt.stderr.strip().splitlines()
                                                        or ["?"])[-1]
    row["after_next"] = drill.sound()
    row["leftovers"] = drill.clean()
    bad = point is not None and outcome != "killed"
    row["failed"] = bool(bad or row["after_kill"] or row["next_run"] or row["after_next"]
                         or row["leftovers"])
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1, help="kills per crash point")
    ap.add_argument("--random", type=int, default=5, help="kills at random moments of a run")
    ap.add_argument("--records", type=int, default=300, help="records per run")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "crash-drill.json")
    ap.add_argument("--list", action="store_true", help="print the crash points and exit")
    a = ap.parse_args()
    if a.list:
        print("\n".join([f"run {p}" for p in RUN_POINTS] + [f"rollback {p}" for p in
                                                             ROLLBACK_POINTS]))
        return 0
    work = Path(tempfile.mkdtemp(prefix="snapsearch-crash-"))
    rows: list[dict[str, Any]] = []
    try:
        drill = Drill(work, a.records)
        for _ in range(2):  # a current and a previous to start from
            drill.new_source()
            first = drill.run()
            if first.returncode:
                raise SystemExit(f"the first runs failed: {first.stderr[-2000:]}")
        t0 = time.monotonic()
        drill.new_source()
        drill.run()
        run_s = time.monotonic() - t0
        cases = [("run", p) for p in RUN_POINTS] + [("rollback", p) for p in ROLLBACK_POINTS]
        print(f"{'command':9s} {'point':24s} {'trials':>6s} {'failures':>8s}  first problem")
        for command, point in cases:
            results = [trial(drill, command, point) for _ in range(a.trials)]
            fails = [r for r in results if r["failed"]]
            rows.append({"command": command, "point": point, "trials": len(results),
                         "failures": len(fails), "results": results})
            why = next((str(v) for r in fails for k, v in r.items()
                        if k not in ("failed", "kill_s") and v and v != "killed"), "")
            print(f"{command:9s} {point:24s} {len(results):6d} {len(fails):8d}  {why[:80]}",
                  flush=True)
        rng = random.Random(20261201)
        randoms = [trial(drill, "run", None, rng.uniform(0.5, run_s)) for _ in range(a.random)]
        killed = sum(r["outcome"] == "killed" for r in randoms)
        rfails = sum(r["failed"] for r in randoms)
        rows.append({"command": "run", "point": f"random moment (0.5-{run_s:.0f} s)",
                     "trials": len(randoms), "killed": killed, "failures": rfails,
                     "results": randoms})
        print(f"{'run':9s} {'random moment':24s} {len(randoms):6d} {rfails:8d}  "
              f"({killed} killed mid-run, {len(randoms) - killed} finished first)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(r["trials"] for r in rows)
    failures = sum(r["failures"] for r in rows)
    summary = {"points": len(RUN_POINTS) + len(ROLLBACK_POINTS), "trials_per_point": a.trials,
               "random_kills": a.random, "kills": total, "failures": failures,
               "records": a.records, "cpus": os.cpu_count(), "rows": rows}
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\n{total} kills ({summary['points']} points x {a.trials} + {a.random} random): "
          f"{failures} failures; JSON: {a.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
