"""The registry: built-in kinds, and a kind from another installed distribution found through the
``snapsearch.kinds`` entry point — a real ``.dist-info`` on ``sys.path``, not a patched registry —
then built, opened and searched with no change to the core."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from snapsearch.format.model import HashingEncoder
from snapsearch.format.reader import open_snapshot
from snapsearch.kinds import available_kinds, get_kind
from snapsearch.search.engine import SearchEngine
from snapsearch.search.errors import FilterNotSupported
from snapsearch.search.types import SearchRequest
from tests.conftest import build_from, write_jsonl

PLUGIN = '''
from typing import Any

from snapsearch.format.writer import Row
from snapsearch.kinds import RecordKind, RejectRecord


class NoteKind(RecordKind):
    """Short notes with a tag (a text filter column) and a length (an integer one)."""

    name = "note"
    version = 3
    template = "{body}"
    lexical_fields = {"body": 1.0}
    filter_columns = {"tag": "text", "length": "integer"}
    summary_fields = ["body", "tag"]

    def to_row(self, raw: Any) -> Row:
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
            raise RejectRecord("note without a key")
        body = str(raw.get("body", ""))
        return Row(id=raw["key"], text=body, lexical={"body": body},
                   filters={"tag": raw.get("tag", ""), "length": len(body)},
                   summary={"body": body, "tag": raw.get("tag", "")}, detail=dict(raw))
'''


@pytest.fixture
def note_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install 'snapsearch-notes' the way pip leaves a distribution: a package and its
    .dist-info with METADATA and entry_points.txt, on sys.path."""
    site = tmp_path / "site"
    pkg = site / "snapsearch_notes"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = site / "snapsearch_notes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: snapsearch-notes\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[snapsearch.kinds]\nnote = snapsearch_notes:NoteKind\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))  # also invalidates importlib's metadata caches
    return "note"


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(KeyError) as exc:
        get_kind("nope")
    msg = str(exc.value)
    assert "'nope'" in msg
    assert "parts, text" in msg
    assert "snapsearch.kinds" in msg


def test_builtin_kinds_available() -> None:
    assert {"parts", "text"} <= set(available_kinds())
    assert get_kind("parts").name == "parts"
    assert get_kind("text").name == "text"


def test_without_the_distribution_the_kind_is_unknown() -> None:
    assert "note" not in available_kinds()


def test_an_installed_distribution_adds_a_kind(note_plugin: str) -> None:
    assert note_plugin in available_kinds()
    kind = get_kind(note_plugin)
    assert type(kind).__module__ == "snapsearch_notes"
    assert [s.name for s in kind.filter_specs()] == ["tag"]  # equality on its text column


def test_a_plugin_kind_builds_and_searches_without_core_changes(
    note_plugin: str, tmp_path: Path
) -> None:
    notes = [{"key": f"n{i}", "body": f"note number {i} about resistors",
              "tag": "even" if i % 2 == 0 else "odd"} for i in range(12)]
    src = write_jsonl(tmp_path / "notes.jsonl", notes)
    enc = HashingEncoder()
    result = build_from(src, tmp_path / "store", enc, kind=note_plugin, collection="notes")
    info = result.manifest.collections["notes"]
    assert (info.records, info.kind, info.kind_version) == (12, "note", 3)
    assert info.filter_columns == {"tag": "text", "length": "integer"}
    snap = open_snapshot(result.path, checksums=True)
    try:
        engine = SearchEngine(snap, enc)
        resp = engine.search(SearchRequest(query="note about resistors", limit=20,
                                           filters={"tag": "odd"}))
        assert len(resp.hits) == 6 and {h.record["tag"] for h in resp.hits} == {"odd"}
        assert engine.kind("notes").display(resp.hits[0].record).startswith("note number")
        with pytest.raises(FilterNotSupported) as exc:
            engine.search(SearchRequest(query="note", filters={"length": 3}))
        assert exc.value.field == "filters.length" and "tag" in str(exc.value)
    finally:
        snap.close()
