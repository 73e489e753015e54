"""The parent's side of the peer worker protocol (``eval.drivers.peer_worker``): spawn a fresh
process, read its JSON events with the time each arrived since the spawn, kill it past a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# The same environment for every system: offline, one thread for the query encoder (as snapsearch
# itself encodes queries), no tokenizer thread pool, no telemetry.
PEER_ENV = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1",
}




def peer_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with PEER_ENV, bytecode caching allowed (a deployment has its
    .pyc files; without them every start would compile each system's Python modules again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **PEER_ENV, **(extra or {})}


class PeerError(RuntimeError):
    """A worker failed, said nothing, or ran past its deadline (the message names the system)."""


@dataclass
class WorkerRun:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    at_s: dict[str, float] = field(default_factory=dict)  # event -> seconds since the spawn
    returncode: int | None = None


def worker_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "eval.drivers.peer_worker", *args]


def run_worker(
    args: list[str], *, label: str, log_path: Path, timeout_s: float = 900.0,
    env: dict[str, str] | None = None, cwd: Path = REPO,
) -> WorkerRun:
    """Run one worker to the end; ``label`` names it in errors, its stderr goes to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run = WorkerRun()
    with open(log_path, "ab") as err, subprocess.Popen(
        worker_command(*args), stdout=subprocess.PIPE, stderr=err, cwd=cwd,
        env=peer_env(env),
    ) as proc:
        t0 = time.perf_counter()
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                at = time.perf_counter() - t0
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                name = str(event.pop("event", "?"))
                run.events[name], run.at_s[name] = event, at
            run.returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if "error" in run.events:
        raise PeerError(f"{label}: {run.events['error'].get('message')} (log: {log_path})")
    if run.returncode != 0:
        why = "killed past its deadline" if run.returncode in (-9, 137) else "failed"
        raise PeerError(f"{label}: worker {why}, exit code {run.returncode} (log: {log_path}, "
                        f"last lines: {tail(log_path)!r})")
    return run


def tail(path: Path, chars: int = 600) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""
