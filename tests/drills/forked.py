"""Crash and pause a store operation in a forked child, at a named point (the drills' tool).

A crash is ``os._exit`` at the point: like ``kill -9``, no ``finally`` block, no cleanup, the
kernel drops the child's locks. A pause waits at the point until the test releases it, so the
test can act while the child is in the middle of something (holding the run lock, say).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from snapsearch.format import faults

CRASHED = 137
FAILED = 3  # the operation raised
TIMEOUT_S = 180.0


def _child(work: Callable[[], object], hook: Callable[[str], None]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        faults.install(hook)
        work()
    except BaseException:  # noqa: BLE001 - reported through the exit code
        code = FAILED
    os._exit(code)


def wait(pid: int, timeout_s: float = TIMEOUT_S) -> int:
    """The child's exit code; a child still running after ``timeout_s`` is killed (and the
    test fails on code -9: it hung)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.02)


def crash_at(point: str, work: Callable[[], object]) -> int:
    """Run ``work`` in a child that dies at ``point`` (CRASHED); 0 or FAILED if it never got
    there."""

    def hook(name: str) -> None:
        if name == point:
            os._exit(CRASHED)

    return wait(_child(work, hook))


@dataclass
class Paused:
    pid: int
    reached: Path
    release: Path

    def wait_reached(self, timeout_s: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.reached.exists():
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                raise AssertionError(
                    f"the child ended (code {os.waitstatus_to_exitcode(status)}) before the point"
                )
            if time.monotonic() > deadline:
                raise AssertionError("the child never reached the point")
            time.sleep(0.02)

    def resume(self) -> int:
        self.release.touch()
        return wait(self.pid)


def pause_at(point: str, work: Callable[[], object], scratch: Path) -> Paused:
    """Run ``work`` in a child that stops at ``point`` until ``resume``."""
    reached, release = scratch / f"reached-{point}", scratch / f"release-{point}"

    def hook(name: str) -> None:
        if name == point and not reached.exists():
            reached.touch()
            while not release.exists():
                time.sleep(0.02)

    return Paused(_child(work, hook), reached, release)
