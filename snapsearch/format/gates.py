"""The gate report (``gates.json``) that validate writes into a snapshot and publish reads.

It is bound to the manifest it judged by the manifest's sha256: a report for other bytes
does not count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import layout
from .errors import GateError
from .hashing import fsync_dir, sha256_file


class GateResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    severity: Literal["ERROR", "WARN"] = "ERROR"
    description: str
    metrics: dict[str, Any] = Field(default_factory=dict)


class GateReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snapshot_id: str
    manifest_sha256: str
    ran_at: str
    gates: dict[str, GateResult]

    @property
    def passed(self) -> bool:
        return all(g.passed or g.severity != "ERROR" for g in self.gates.values())

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": sorted(n for n, g in self.gates.items() if not g.passed),
        }

    def to_json(self) -> str:
        data = self.model_dump(mode="json")
        data["passed"] = self.passed
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_gate_report(snapshot_dir: Path, report: GateReport) -> Path:
    path = snapshot_dir / layout.GATES
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.to_json(), encoding="utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(snapshot_dir)
    return path


def read_gate_report(snapshot_dir: Path) -> GateReport | None:
    """The snapshot's gate report, or None when gates never ran (or ran on other bytes)."""
    path = snapshot_dir / layout.GATES
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("passed", None)
        report = GateReport.model_validate(data)
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise GateError(f"{path} is unreadable: {exc}", fix="run the validate stage again") from exc
    if report.manifest_sha256 != sha256_file(snapshot_dir / layout.MANIFEST):
        return None
    return report
