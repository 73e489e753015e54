"""A kind's version covers everything that shapes the rows it writes.

The "inputs unchanged" shortcut compares kind versions, not kind code: a change to the parts
value grammar that alters what a rebuild writes, without a new ``version``, would be skipped by
the next scheduled build. This test pins the rows written from fixed records (the bundled
sample's parts in golden/parts-records.jsonl, a few hand-written docs in text-records.jsonl) by
digest, per kind and version: it fails when the rows change and the version does not.

After a deliberate change: bump the kind's ``version``, then record the new digest with
``UPDATE_GOLDEN=1 pytest tests/snapsearch/kinds/test_golden.py`` (it only adds
digests for versions that have none; a recorded version is never rewritten).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from snapsearch.kinds import RecordKind, get_kind

GOLDEN = Path(__file__).parent / "golden"
DIGESTS = GOLDEN / "digests.json"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _records(kind: str) -> list[Any]:
    lines = (GOLDEN / f"{kind}-records.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _digest(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def written(kind: RecordKind, records: list[Any]) -> dict[str, str]:
    """Digest of each record's row, keyed by record id, plus the collection's own record."""
    out = {"<collection>": _digest(kind.collection_info(len(records), 0).model_dump())}
    for raw in records:
        row = kind.to_row(raw)
        out[row.id] = _digest(asdict(row))
    return out


def drift(rows: dict[str, str], recorded: dict[str, str]) -> list[str]:
    return sorted(k for k in set(rows) | set(recorded) if rows.get(k) != recorded.get(k))


def _recorded(name: str) -> dict[str, str]:
    golden = json.loads(DIGESTS.read_text(encoding="utf-8"))
    return dict(golden[name][str(get_kind(name).version)])


@pytest.mark.parametrize("name", ["parts", "text"])
def test_rows_match_the_golden_digest_of_this_kind_version(name: str) -> None:
    kind = get_kind(name)
    rows = written(kind, _records(name))
    golden: dict[str, dict[str, Any]] = json.loads(DIGESTS.read_text(encoding="utf-8"))
    recorded = golden.get(name, {}).get(str(kind.version))
    if recorded is None:
        if UPDATE:
            golden.setdefault(name, {})[str(kind.version)] = rows
            DIGESTS.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n",
                               encoding="utf-8")
            return
        pytest.fail(f"no golden rows for kind {name!r} version {kind.version}: record them with "
                    "UPDATE_GOLDEN=1 pytest tests/snapsearch/kinds/test_golden.py")
    changed = drift(rows, recorded)
    assert not changed, (
        f"kind {name!r} version {kind.version} now writes other rows for {len(changed)} of the "
        f"golden records (e.g. {', '.join(changed[:5])}): a change that alters written rows must "
        f"bump {type(kind).__name__}.version (then record the new digest, see this module's "
        "docstring), or the next build skips it as 'inputs unchanged'"
    )


def test_the_golden_records_cover_what_the_parts_grammar_reads() -> None:
    """The fixed records exercise the grammar: display-only values, tolerances, packages."""
    rows = [get_kind("parts").to_row(r) for r in _records("parts")]
    units = {unit for row in rows for (_a, _k, unit, _v) in row.numeric}
    assert {"resistance", "capacitance", "voltage", "percent"} <= units
    assert any(row.lexical["values"] for row in rows)
    assert len({row.filters["category"] for row in rows}) >= 10


def test_a_grammar_change_without_a_new_version_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The failing fixture: value spellings written differently (as a grammar edit would)."""
    from snapsearch.kinds.parts import kind as parts_kind

    monkeypatch.setattr(parts_kind, "si_spellings", lambda value, unit: [f"{value:g}{unit}"])
    changed = drift(written(get_kind("parts"), _records("parts")), _recorded("parts"))
    assert len(changed) > 10 and "<collection>" not in changed


def test_a_template_change_without_a_new_version_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = get_kind("text")
    monkeypatch.setattr(type(kind), "template", "{title}: {text}")
    changed = drift(written(kind, _records("text")), _recorded("text"))
    assert "<collection>" in changed and len(changed) > 3
