"""The store lock: publish, rollback and retention hold ``fcntl.flock`` on one lock file."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snapsearch.format import layout
from snapsearch.format.errors import StoreError

LOCK_WAIT_S = 5.0  # how long publish/rollback wait for another holder of the lock


@contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Hold ``flock`` on the store's lock file; wait up to LOCK_WAIT_S for another holder."""
    if not root.is_dir():
        raise StoreError(
            f"store root {root} does not exist", fix="build a snapshot first: snapsearch run"
        )
    fd = os.open(root / layout.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another publish is in progress in {root} (lock {layout.LOCK} is held)",
                        fix="wait for it to finish and try again",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
