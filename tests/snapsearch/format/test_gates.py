"""Gate reports: beside the snapshot, sealed, bound to the manifest, written atomically; verify
and open check them as asked (issue 11, findings 2 and 5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from snapsearch.format import layout
from snapsearch.format.errors import GateError, IntegrityError
from snapsearch.format.gates import (
    SEAL_KEY,
    GateReport,
    GateResult,
    gate_leftovers,
    gate_report_path,
    load_gate_report,
    read_gate_report,
    remove_gate_report,
    unseal,
    write_gate_report,
)
from snapsearch.format.hashing import sha256_file
from snapsearch.format.reader import open_snapshot
from snapsearch.format.verify import verify_snapshot


def report_for(snapshot_dir: Path, *, passed: bool = True) -> GateReport:
    return GateReport(
        snapshot_id=snapshot_dir.name,
        manifest_sha256=sha256_file(snapshot_dir / layout.MANIFEST),
        ran_at="2024-05-01T12:05:00Z",
        gates={
            "integrity": GateResult(passed=True, description="ok", metrics={"files": 3}),
            "latency": GateResult(passed=passed, description="p50 17.0 ms",
                                  metrics={"p50_ms": 17.04, "judged_by": "ratio"}),
        },
    )


def test_the_report_lives_beside_the_snapshot_not_in_it(built):
    before = sorted(p.name for p in built.path.iterdir())
    path = write_gate_report(built.path, report_for(built.path))
    assert path == built.path.parent / layout.GATES_DIR / f"{built.snapshot_id}.json"
    assert path == gate_report_path(built.path)
    assert sorted(p.name for p in built.path.iterdir()) == before  # the snapshot is untouched
    assert read_gate_report(built.path) == report_for(built.path)
    verify_snapshot(built.path, gates="passed")


def test_the_report_is_found_through_the_current_link(built):
    write_gate_report(built.path, report_for(built.path))
    link = built.path.parent / layout.CURRENT
    link.symlink_to(built.snapshot_id)
    assert read_gate_report(link) == report_for(built.path)
    verify_snapshot(link, gates="passed")


def test_the_file_is_canonical_json_with_its_own_sha256(built):
    path = write_gate_report(built.path, report_for(built.path))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["passed"] is True and len(data[SEAL_KEY]) == 64
    assert list(data) == sorted(data)


def test_no_temp_file_is_left_and_the_write_is_atomic(built, monkeypatch):
    write_gate_report(built.path, report_for(built.path))
    directory = gate_report_path(built.path).parent
    assert [p.name for p in directory.iterdir()] == [f"{built.snapshot_id}.json"]

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_gate_report(built.path, report_for(built.path, passed=False))
    # the old report stands whole, and the temp file was removed
    assert read_gate_report(built.path) == report_for(built.path)
    assert [p.name for p in directory.iterdir()] == [f"{built.snapshot_id}.json"]


def test_every_byte_of_the_report_is_sealed(built):
    """Change each byte of the report in turn (two ways): every edit is refused."""
    path = write_gate_report(built.path, report_for(built.path))
    original = path.read_bytes()
    accepted = []
    for i in range(len(original)):
        for new in {original[i] ^ 0x01, ord("0") if original[i] != ord("0") else ord("1")}:
            data = bytearray(original)
            data[i] = new
            try:
                unseal(bytes(data))
            except ValueError:
                continue
            accepted.append((i, chr(original[i]), chr(new)))
    assert accepted == []
    assert unseal(original)["passed"] is True
    assert load_gate_report(built.path) == report_for(built.path)


@pytest.mark.parametrize("edit", ["passed", "metric", "truncate", "empty", "unsealed"])
def test_an_edited_report_is_refused_everywhere(built, edit):
    path = write_gate_report(built.path, report_for(built.path, passed=False))
    data = json.loads(path.read_text(encoding="utf-8"))
    if edit == "passed":  # the classic forgery: flip a failed gate to passed
        data["gates"]["latency"]["passed"] = True
        data["passed"] = True
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    elif edit == "metric":
        data["gates"]["latency"]["metrics"]["p50_ms"] = 1.0
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    elif edit == "truncate":
        text = path.read_text(encoding="utf-8")[:-20]
    elif edit == "empty":
        text = ""
    else:
        del data[SEAL_KEY]
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GateError, match=str(path)):
        read_gate_report(built.path)
    for gates in ("if_present", "passed"):
        with pytest.raises(GateError, match=str(path)):
            verify_snapshot(built.path, gates=gates)  # type: ignore[arg-type]
    with pytest.raises(GateError):
        open_snapshot(built.path)
    verify_snapshot(built.path, gates="ignore")  # the files themselves are fine


def test_a_report_for_another_snapshot_is_refused(built, tmp_path):
    report = report_for(built.path)
    path = write_gate_report(built.path, report)
    other = built.path.parent / "20240101T000000000000Z-00000000"
    other.mkdir()
    os.replace(path, gate_report_path(other))
    with pytest.raises(GateError, match="is for snapshot"):
        load_gate_report(other)
    with pytest.raises(GateError, match="cannot judge"):
        write_gate_report(other, report)


def test_a_report_on_other_manifest_bytes_does_not_count(built):
    report = report_for(built.path).model_copy(update={"manifest_sha256": "0" * 64})
    write_gate_report(built.path, report)
    assert read_gate_report(built.path) is None  # publish: "gates never ran on these bytes"
    with pytest.raises(GateError, match="judged other manifest bytes"):
        verify_snapshot(built.path)


def test_verify_and_open_ask_for_a_passing_report_when_told(built):
    with pytest.raises(GateError, match="no gate report .* its gates never ran"):
        verify_snapshot(built.path, gates="passed")
    verify_snapshot(built.path)  # if_present: a snapshot not validated yet opens
    with open_snapshot(built.path):
        pass
    write_gate_report(built.path, report_for(built.path, passed=False))
    with pytest.raises(GateError, match=r"failed its gates \(latency; see "):
        verify_snapshot(built.path, gates="passed")
    with pytest.raises(GateError, match="failed its gates"):
        open_snapshot(built.path, gates="passed")
    verify_snapshot(built.path)  # a sound report that failed is still a sound report


def test_leftovers_are_temp_files_and_reports_without_a_snapshot(built):
    root = built.path.parent
    assert gate_leftovers(root) == []
    write_gate_report(built.path, report_for(built.path))
    assert gate_leftovers(root) == []
    directory = layout.gates_dir(root)
    tmp = directory / f"{layout.TMP_PREFIX}{built.snapshot_id}-abcd"
    tmp.write_text("{", encoding="utf-8")
    orphan = directory / "20240101T000000000000Z-00000000.json"
    orphan.write_text("{}", encoding="utf-8")
    assert gate_leftovers(root) == [tmp, orphan]
    remove_gate_report(built.path)
    remove_gate_report(built.path)  # twice is harmless
    assert not gate_report_path(built.path).exists()


def test_a_snapshot_with_a_broken_seal_is_refused_before_its_report_is_read(built):
    write_gate_report(built.path, report_for(built.path))
    (built.path / layout.SEAL).unlink()
    with pytest.raises(IntegrityError, match="manifest.sha256: missing"):
        verify_snapshot(built.path, gates="passed")
