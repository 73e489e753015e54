"""Store status: current, previous, every snapshot newest first, the last events."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.publish import publish, run_lock, store_status
from tests.pipelines.publish.conftest import A, B, C, MakeSnapshot


def test_store_status(root: Path, make_snapshot: MakeSnapshot) -> None:
    make_snapshot(A)
    make_snapshot(B)
    make_snapshot(C, gates="failed")
    publish(root, A)
    publish(root, B)
    st = store_status(root, events=1)
    assert (st.current, st.previous) == (B, A)
    assert [s.snapshot_id for s in st.snapshots] == [C, B, A]
    info = {s.snapshot_id: s for s in st.snapshots}
    assert info[B].is_current and info[A].is_previous and not info[C].is_current
    assert (info[A].gates_passed, info[C].gates_passed) == (True, False)
    assert info[A].built_at is None  # the minimal manifest is not a valid one
    assert info[A].bytes > 0
    assert [e.to_id for e in st.events] == [B]
    assert json.loads(json.dumps(st.to_dict()))["current"] == B


def test_store_status_of_missing_root(tmp_path: Path) -> None:
    st = store_status(tmp_path / "nothing")
    assert (st.current, st.previous, st.snapshots, st.events) == (None, None, [], [])


def test_store_status_names_the_run_in_progress(root: Path) -> None:
    assert store_status(root).run is None
    with run_lock(root, "nightly-7"):
        run = store_status(root).run
    assert run is not None and run["run"] == "nightly-7" and run["pid"] == os.getpid()
