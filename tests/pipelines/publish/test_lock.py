"""The store lock: a held lock refuses publish/rollback after a short wait, then releases."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipelines.publish import publish, rollback
from snapsearch.format import layout
from snapsearch.format.errors import StoreError
from snapsearch.format.links import current_id
from tests.pipelines.publish.conftest import A, MakeSnapshot, RealSnapshots, held_lock


@pytest.mark.usefixtures("fast_lock")
def test_lock_held_elsewhere_refuses_publish(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    with held_lock(root), pytest.raises(StoreError, match="another publish is in progress"):
        publish(root, A)
    assert current_id(root) is None
    publish(root, A)  # released: works
    assert current_id(root) == A


@pytest.mark.usefixtures("fast_lock")
def test_lock_held_by_another_process(root: Path, real_snapshots: RealSnapshots) -> None:
    (a,) = real_snapshots(1)
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    args = [sys.executable, "-c", code, str(root / layout.LOCK)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="another publish is in progress"):
            rollback(root, a)
        holder.stdin.close()
        holder.wait(timeout=10)
    rollback(root, a)
    assert current_id(root) == a


def test_publish_waits_for_a_short_lock(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    release = threading.Event()
    locked = threading.Event()

    def hold() -> None:
        with held_lock(root):
            locked.set()
            release.wait(timeout=5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=5)
    timer = threading.Timer(0.2, release.set)
    timer.start()
    try:
        publish(root, A)
    finally:
        release.set()
        timer.cancel()
        holder.join()
    assert current_id(root) == A
