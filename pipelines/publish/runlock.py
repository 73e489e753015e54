"""One run at a time: the run lock (``.run.lock``), held from fetch to publish.

Whoever writes into the store (fetch, build, gates, publish, retention, leftover cleanup) holds
``flock`` on ``<root>/.run.lock``. It is never waited for: a second run fails at once with
"another run is in progress" naming the holder (pid, run id, since when), instead of racing
the first one. Because only the holder writes, everything unfinished that it finds (``.tmp-*``
dirs, snapshots without a gate report, stray temp files) belongs to a process that died: the
holder can prove it dead and remove it (``leftovers``).

The lock is per process and counted: the steps of one Dagster run (one process with the
in-process executor) and the library functions they call take it again without blocking
themselves. The kernel releases it when the process ends, however it ends (``kill -9``
included); a forked child does not inherit it. Rollback does not take it (it must work while a
run builds); it holds the short store lock (``lock``) like publish.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from snapsearch.format import layout
from snapsearch.format.errors import StoreError


@dataclass
class _Hold:
    fd: int
    count: int = 0
    runs: set[str] = field(default_factory=set)  # Dagster runs that joined (``join_run``)


_holds: dict[Path, _Hold] = {}
_mutex = threading.Lock()


def _key(root: Path) -> Path:
    return root.resolve()


def _forget_inherited() -> None:
    """In a forked child: the parent's holds are not ours (closing our copies of the descriptors
    leaves the parent's lock in place)."""
    global _mutex
    _mutex = threading.Lock()
    for hold in _holds.values():
        try:
            os.close(hold.fd)
        except OSError:
            pass
    _holds.clear()


os.register_at_fork(after_in_child=_forget_inherited)


def holder(root: Path) -> dict[str, object]:
    """What the holder wrote into the lock file (pid, run, since); {} when unknown."""
    try:
        data = json.loads((root / layout.RUN_LOCK).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _busy(root: Path) -> StoreError:
    who = holder(root)
    parts = [f"pid {who['pid']}" if who.get("pid") else "",
             f"run {who['run']}" if who.get("run") else "",
             f"since {who['since']}" if who.get("since") else ""]
    detail = ", ".join(p for p in parts if p)
    return StoreError(
        f"another run is in progress in {root}" + (f" ({detail})" if detail else ""),
        fix="wait for it to finish (snapsearch status shows what it published), then try again",
    )


def acquire(root: Path, run: str = "") -> None:
    """Take the run lock (again, when this process holds it); StoreError at once when another
    process holds it. Every ``acquire`` is paired with a ``release``."""
    key = _key(root)
    with _mutex:
        hold = _holds.get(key)
        if hold is None:
            if not root.is_dir():
                raise StoreError(
                    f"store root {root} does not exist", fix="build one with `snapsearch run`"
                )
            fd = os.open(root / layout.RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise _busy(root) from None
                raise
            hold = _holds[key] = _Hold(fd)
            _write_holder(fd, run)
        elif run and run not in hold.runs:
            _write_holder(hold.fd, run)
        hold.count += 1


def release(root: Path) -> None:
    """Undo one ``acquire``; the last one unlocks."""
    key = _key(root)
    with _mutex:
        hold = _holds.get(key)
        if hold is None:
            return
        hold.count -= 1
        if hold.count <= 0:
            del _holds[key]
            os.close(hold.fd)  # closing the descriptor releases the lock


def _write_holder(fd: int, run: str) -> None:
    info = {"pid": os.getpid(), "run": run or None,
            "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


@contextmanager
def run_lock(root: Path, run: str = "") -> Iterator[None]:
    """Hold the run lock for the block (see ``acquire``)."""
    acquire(root, run)
    try:
        yield
    finally:
        release(root)


def held_here(root: Path) -> bool:
    """Whether this process holds the run lock of ``root``."""
    with _mutex:
        return _key(root) in _holds


def join_run(root: Path, run_id: str) -> None:
    """A Dagster step of run ``run_id`` takes the lock for its run: the first step of the run in
    this process acquires it, later steps find it held. ``leave_run`` (the last step, or the code
    that launched the run in-process) gives it back; a run that dies gives it back with its
    process."""
    with _mutex:
        hold = _holds.get(_key(root))
        if hold is not None and run_id in hold.runs:
            return
    acquire(root, run_id)
    with _mutex:
        _holds[_key(root)].runs.add(run_id)


def leave_run(root: Path, run_id: str) -> None:
    """Give back what ``join_run`` took for ``run_id`` (nothing when it took nothing)."""
    with _mutex:
        hold = _holds.get(_key(root))
        if hold is None or run_id not in hold.runs:
            return
        hold.runs.discard(run_id)
    release(root)


def run_in_progress(root: Path) -> bool:
    """Whether some process (this one included) holds the run lock; never blocks."""
    if held_here(root):
        return True
    path = root / layout.RUN_LOCK
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)
    return False

