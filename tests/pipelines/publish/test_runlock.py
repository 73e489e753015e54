"""The run lock: one run at a time, refused at once (never a wait) naming the holder; held again
by the same process; released when the holder dies however it dies (issue 11 finding 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.publish import runlock
from snapsearch.format.errors import StoreError

HOLD = (
    "import sys; from pathlib import Path\n"
    "from pipelines.publish.runlock import acquire\n"
    "acquire(Path(sys.argv[1]), 'nightly-1'); print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_another_process_is_refused_at_once_naming_the_holder(root: Path) -> None:
    args = [sys.executable, "-c", HOLD, str(root)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None and run.stdin is not None
        assert run.stdout.readline().strip() == "locked"
        assert runlock.run_in_progress(root)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match=rf"another run is in progress in .*pid {run.pid}, "
                                             r"run nightly-1, since 20\d\d-"):
            runlock.acquire(root, "cli")
        assert time.monotonic() - t0 < 1.0
        os.kill(run.pid, signal.SIGKILL)  # the holder dies without cleaning up
        run.wait(timeout=10)
    assert not runlock.run_in_progress(root)
    with runlock.run_lock(root, "cli"):
        assert runlock.held_here(root)
    assert not runlock.held_here(root)


def test_the_holder_takes_it_again_and_the_last_release_unlocks(root: Path) -> None:
    with runlock.run_lock(root):
        with runlock.run_lock(root):
            runlock.join_run(root, "r1")
            runlock.join_run(root, "r1")  # a later step of the same run
            runlock.leave_run(root, "r1")
            runlock.leave_run(root, "r1")  # nothing left to give back
            assert runlock.held_here(root)
        assert runlock.held_here(root)
    assert not runlock.held_here(root) and not runlock.run_in_progress(root)


def test_a_forked_child_does_not_inherit_the_hold(root: Path) -> None:
    with runlock.run_lock(root):
        pid = os.fork()
        if pid == 0:  # the child: must see another holder, not its own
            try:
                runlock.acquire(root, "child")
            except StoreError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert runlock.held_here(root)


def test_a_missing_store_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        runlock.acquire(tmp_path / "nothing")
