"""Which snapshots may become current: an existing snapshot whose gate report passed and is
bound to its manifest's bytes."""

from __future__ import annotations

from pathlib import Path

from snapsearch.format import layout
from snapsearch.format.errors import GateError, StoreError
from snapsearch.format.gates import GateReport, gate_report_path, read_gate_report


def snapshot_dir(root: Path, snapshot_id: str) -> Path:
    """The directory of an existing snapshot, or StoreError."""
    path = root / snapshot_id
    if (
        not layout.is_snapshot_id(snapshot_id)
        or not path.is_dir()
        or path.is_symlink()
        or not (path / layout.MANIFEST).is_file()
    ):
        raise StoreError(
            f"{snapshot_id!r} is not a snapshot in {root}",
            fix="name a snapshot: snapsearch status lists them",
        )
    return path


def passed_report(root: Path, snapshot_id: str) -> GateReport:
    """The snapshot's gate report if it passed and is bound to its manifest, else GateError."""
    path = snapshot_dir(root, snapshot_id)
    report = read_gate_report(path)
    if report is None:
        if gate_report_path(path).is_file():
            raise GateError(
                f"refusing {snapshot_id}: its gate report was written for other manifest bytes",
                fix="run the validate stage on this snapshot again",
            )
        raise GateError(
            f"refusing {snapshot_id}: its gates never ran ({gate_report_path(path)} is missing)",
            fix="run the validate stage before publishing",
        )
    if not report.passed:
        failed = sorted(
            n for n, g in report.gates.items() if not g.passed and g.severity == "ERROR"
        )
        raise GateError(
            f"refusing {snapshot_id}: gates failed: {', '.join(failed)}",
            fix="fix the cause and rebuild; the current snapshot stays published",
        )
    return report
