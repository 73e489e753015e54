"""Run the `snapsearch` command with one crash point armed: the crash drills' runner.

    python bench/fault_runner.py POINT ACTION [snapsearch arguments...]

POINT is a name passed to ``snapsearch.format.faults.point`` (``bench/crash_drill.py --list``
prints them all); the first time the process reaches it, ACTION happens:

    pause:PATH   write PATH and wait to be killed (the drill answers with ``kill -9``)
    exit         end the process there and then, as ``kill -9`` would (``os._exit(137)``)
    overflow     raise the sqlite OverflowError a stock of 10**30 raises
    recursion    raise the RecursionError a record nested 5,000 deep raises
    disk-full    raise the sqlite error of a full disk
    remove-build remove the build directory under the running build, then carry on

Everything else is the real command: ``python bench/fault_runner.py build.written exit run
--root /tmp/store`` is `snapsearch run --root /tmp/store` dying mid-build.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path


def _action(point: str, action: str) -> None:
    if action.startswith("pause:"):
        Path(action.removeprefix("pause:")).write_text(f"{os.getpid()} {point}\n")
        while True:
            time.sleep(60)
    if action == "exit":
        os._exit(137)
    if action == "overflow":
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
    if action == "recursion":
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")
    if action == "disk-full":
        raise sqlite3.OperationalError("database or disk is full")
    if action == "remove-build":
        root = Path(_root())
        for build in root.glob(".tmp-2*"):
            shutil.rmtree(build)
        return
    raise SystemExit(f"fault_runner: unknown action {action!r}")


def _root() -> str:
    args = sys.argv
    return args[args.index("--root") + 1] if "--root" in args else os.environ["SNAPSEARCH_ROOT"]


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    point, action = sys.argv[1], sys.argv[2]
    sys.argv = ["snapsearch", *sys.argv[3:]]
    fired = False

    def hook(name: str) -> None:
        nonlocal fired
        if name == point and not fired:
            fired = True
            _action(name, action)

    from snapsearch.format import faults

    faults.install(hook)
    from snapsearch.cli import main as snapsearch

    snapsearch()


if __name__ == "__main__":
    main()
