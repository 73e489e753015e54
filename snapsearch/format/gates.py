"""The gate report that validate writes and publish, rollback, verify and serve read.

Where: beside the snapshot, ``<root>/_gates/<snapshot id>.json``, never inside it. A snapshot
directory is complete and sealed when it is renamed into place and never written again; the
report comes later, written to ``_gates/.tmp-*`` and renamed over its name, so a kill leaves
either no report (the snapshot was never validated) or a whole one, and never a half-written
file inside a snapshot.

Sealed: the report holds ``report_sha256``, the sha256 of its own canonical JSON without that
key, and the file must be exactly that canonical JSON: an edit of any byte is refused. Bound:
``manifest_sha256`` is the sha256 of the manifest it judged; a report for other bytes does not
count.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import layout
from .errors import GateError
from .hashing import fsync_dir, sha256_file, sha256_text

SEAL_KEY = "report_sha256"


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

    def body(self) -> dict[str, Any]:
        """The report as JSON data, with ``passed`` (what the seal covers)."""
        data = self.model_dump(mode="json")
        data["passed"] = self.passed
        return data

    def to_json(self) -> str:
        """The sealed file: canonical JSON of ``body()`` plus its own sha256."""
        body = self.body()
        return _canonical({**body, SEAL_KEY: sha256_text(_canonical(body))})


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def gate_report_path(snapshot_dir: Path) -> Path:
    """Where the gate report of the snapshot in ``snapshot_dir`` lives (its store's _gates/)."""
    d = snapshot_dir.resolve()
    return layout.gate_report_path(d.parent, d.name)


def write_gate_report(snapshot_dir: Path, report: GateReport) -> Path:
    """Write the report atomically beside the snapshot (temp file, fsync, rename, fsync)."""
    d = snapshot_dir.resolve()
    if report.snapshot_id != d.name:
        raise GateError(f"a gate report for {report.snapshot_id} cannot judge {d}")
    path = gate_report_path(d)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f"{layout.TMP_PREFIX}{d.name}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(report.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def unseal(raw: bytes) -> dict[str, Any]:
    """A sealed report's data (with ``passed``, without the seal); ValueError saying why the
    bytes are not a sealed report (not JSON, not canonical, or another sha256)."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get(SEAL_KEY), str):
        raise ValueError(f"not sealed ({SEAL_KEY} missing)")
    seal = data.pop(SEAL_KEY)
    if text != _canonical({**data, SEAL_KEY: seal}) or seal != sha256_text(_canonical(data)):
        raise ValueError(f"its sha256 differs from its seal ({SEAL_KEY}): edited or damaged")
    return data


def load_gate_report(snapshot_dir: Path) -> GateReport | None:
    """The report as written (None when there is none); GateError when it is not sealed, not
    whole, or for another snapshot. Whether it judged these manifest bytes is not checked."""
    path = gate_report_path(snapshot_dir)
    if not path.is_file():
        return None
    fix = "run the validate stage again (`snapsearch run --force`); never edit a gate report"
    try:
        data = unseal(path.read_bytes())
    except OSError as exc:
        raise GateError(f"gate report {path} is unreadable: {exc}", fix=fix) from exc
    except ValueError as exc:
        raise GateError(f"gate report {path}: {exc}", fix=fix) from None
    passed = data.pop("passed", None)
    try:
        report = GateReport.model_validate(data)
    except ValidationError as exc:
        raise GateError(f"gate report {path} is not a gate report: {exc}", fix=fix) from exc
    if passed is not report.passed:
        raise GateError(f"gate report {path}: 'passed' contradicts its gates", fix=fix)
    if report.snapshot_id != Path(snapshot_dir).resolve().name:
        raise GateError(
            f"gate report {path} is for snapshot {report.snapshot_id!r}", fix=fix
        )
    return report


def read_gate_report(snapshot_dir: Path) -> GateReport | None:
    """The snapshot's gate report, or None when gates never ran (or ran on other manifest
    bytes); GateError when the report is damaged."""
    report = load_gate_report(snapshot_dir)
    if report is None:
        return None
    manifest = Path(snapshot_dir) / layout.MANIFEST
    if not manifest.is_file() or report.manifest_sha256 != sha256_file(manifest):
        return None
    return report


def remove_gate_report(snapshot_dir: Path) -> None:
    """Delete the snapshot's gate report, if any (retention, after removing a snapshot)."""
    path = gate_report_path(snapshot_dir)
    path.unlink(missing_ok=True)


def gate_leftovers(root: Path) -> list[Path]:
    """Files in ``<root>/_gates`` that are provably dead: temp files of an interrupted write
    (a writer that is still running is the caller's to rule out: hold the store's run lock) and
    reports whose snapshot directory no longer exists."""
    directory = layout.gates_dir(root)
    if not directory.is_dir():
        return []
    out: list[Path] = []
    for p in sorted(directory.iterdir()):
        if p.name.startswith(layout.TMP_PREFIX):
            out.append(p)
        elif p.name.endswith(layout.GATE_REPORT_SUFFIX):
            sid = p.name[: -len(layout.GATE_REPORT_SUFFIX)]
            if layout.is_snapshot_id(sid) and not (root / sid).is_dir():
                out.append(p)
    return out
