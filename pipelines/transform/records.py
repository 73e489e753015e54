"""Raw version -> validated, normalised rows (+ rejects), every reject naming file, line, reason.

A raw file is JSON lines, optionally gzipped, read line by line (each line bounded in size, so
one huge line cannot fill memory). What makes the *file* unreadable stops the build with the
file, the line and the fix: a line that is not UTF-8 or not JSON, a truncated or damaged gzip.
What makes one *record* unusable rejects that record, with its file, line and reason, and counts
against ``max_reject_rate``: a line over ``max_record_bytes``, a string over
``max_field_chars``, nesting deeper than ``MAX_DEPTH``, a lone surrogate (``"\\ud800"`` is valid
JSON but not text), an integer past 64 bits or a number that is not finite (SQLite stores
neither), and whatever the record kind refuses.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from snapsearch.format.errors import SourceError
from snapsearch.format.writer import Reject, Row
from snapsearch.kinds import RecordKind, RejectRecord

MAX_DEPTH = 64  # objects/arrays nested deeper than this are rejected
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_SKIP_CHUNK = 1 << 20


class RejectRateError(SourceError):
    """Too many records were rejected."""


@dataclass(frozen=True)
class Limits:
    """What one record may hold (the settings SNAPSEARCH_MAX_RECORD_BYTES and
    SNAPSEARCH_MAX_FIELD_CHARS)."""

    max_record_bytes: int = 1_000_000
    max_field_chars: int = 100_000


@dataclass
class ParsedSource:
    rows: list[Row]
    rejects: list[Reject]
    total: int


@dataclass(frozen=True)
class Line:
    """One non-blank line of a raw file: its record, or why it was rejected."""

    number: int
    record: Any = None
    reject: str | None = None


def _open_binary(path: Path, name: str) -> IO[bytes]:
    return gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")


def _check_suffix(name: str) -> None:
    if not name.endswith(_SUFFIXES):
        raise SourceError(
            f"{name}: unsupported raw format (expected .jsonl or .jsonl.gz)",
            fix="give a JSON-lines file, one record per line",
        )


def iter_lines(path: Path, name: str, limits: Limits = Limits()) -> Iterator[Line]:
    """Every non-blank line of a JSONL (optionally .gz) raw file, numbered from 1, parsed or
    rejected; SourceError naming file and line when the file itself is unreadable."""
    _check_suffix(name)
    number = 0
    try:
        with _open_binary(path, name) as f:
            while True:
                raw = f.readline(limits.max_record_bytes + 1)
                if not raw:
                    return
                number += 1
                if len(raw) > limits.max_record_bytes and not raw.endswith(b"\n"):
                    size = len(raw) + _skip_line(f)
                    yield Line(number, reject=(
                        f"record is {size:,} bytes (max {limits.max_record_bytes:,}: "
                        "SNAPSEARCH_MAX_RECORD_BYTES)"
                    ))
                    continue
                if not raw.strip():
                    continue
                yield _parse_line(raw, number, name, limits)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise SourceError(
            f"{name}: the gzip stream is truncated or damaged after line {number} ({exc})",
            fix="fetch the file again; if the source serves it this way, fix the source",
        ) from exc
    except OSError as exc:
        raise SourceError(
            f"{name}: cannot read line {number + 1}: {exc}", fix="check the file and its source"
        ) from exc


def _skip_line(f: IO[bytes]) -> int:
    """Read the rest of an over-long line without keeping it; the bytes skipped."""
    skipped = 0
    while chunk := f.readline(_SKIP_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _parse_line(raw: bytes, number: int, name: str, limits: Limits) -> Line:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{name}: line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{len(raw[: exc.start].decode('utf-8', 'replace')) + 1})",
            fix="re-encode the file as UTF-8, or fix that line in the source, then run again",
        ) from None
    unstorable = False
    try:
        try:
            record = json.loads(
                text, parse_int=_int64, parse_float=_finite, parse_constant=_no_constant
            )
        except _Unstorable:  # parse it again to name the field (the walk below)
            unstorable = True
            record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{name}: line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
            fix="fix or remove that line in the source, then run again",
        ) from None
    except RecursionError:
        return Line(number, reject=f"record is nested deeper than {MAX_DEPTH} levels")
    if not unstorable and not _may_have_problem(text, limits.max_field_chars):
        return Line(number, record=record)
    why = _field_problem(record, limits.max_field_chars)
    return Line(number, reject=why) if why else Line(number, record=record)


class _Unstorable(ValueError):
    """A number SQLite or a JSON answer cannot hold (raised while parsing)."""


def _int64(literal: str) -> int:
    value = int(literal)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _Unstorable(literal)
    return value


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Unstorable(literal)
    return value


def _no_constant(literal: str) -> float:
    raise _Unstorable(literal)  # NaN, Infinity, -Infinity


def _may_have_problem(text: str, max_chars: int) -> bool:
    """Whether the line could hold a string too long or not text, or nesting too deep (most
    lines cannot: then the walk over every value is skipped). A decoded string is never longer
    than its line, nesting never deeper than the line's brackets, and a lone surrogate needs a
    ``\\udXXX`` escape. (Numbers are checked while parsing.)"""
    return (
        len(text) > max_chars
        or text.count("{") + text.count("[") > MAX_DEPTH
        or "\\ud" in text or "\\uD" in text
    )


def _field_problem(value: Any, max_chars: int) -> str | None:
    """Why a parsed record cannot be stored, or None: nested too deep, a string too long or not
    text, an integer past 64 bits (SQLite's), a number that is not finite."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        v, where, depth = stack.pop()
        what = f"field {where!r}" if where else "the record"
        if isinstance(v, dict):
            if depth >= MAX_DEPTH:
                return f"record is nested deeper than {MAX_DEPTH} levels"
            for k, x in v.items():
                key = str(k)
                if why := _text_problem(key, f"a key of {what}", max_chars):
                    return why
                stack.append((x, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(v, list):
            if depth >= MAX_DEPTH:
                return f"record is nested deeper than {MAX_DEPTH} levels"
            stack.extend((x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v))
        elif isinstance(v, str):
            if why := _text_problem(v, what, max_chars):
                return why
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if not _INT64_MIN <= v <= _INT64_MAX:
                return f"{what} is an integer of {len(str(abs(v)))} digits (past 64 bits)"
        elif isinstance(v, float) and not math.isfinite(v):
            return f"{what} is {v!r}, not a finite number"
    return None


def _text_problem(s: str, what: str, max_chars: int) -> str | None:
    if len(s) > max_chars:
        return f"{what} is {len(s):,} characters (max {max_chars:,}: SNAPSEARCH_MAX_FIELD_CHARS)"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"{what} holds a lone surrogate (\\u{ord(s[exc.start]):04x} at character "
                f"{exc.start + 1}): not valid Unicode text")
    return None


def read_json_objects(path: Path, name: str, limits: Limits = Limits()) -> list[Any]:
    """The records of a raw file (rejected lines left out); SourceError naming file and line
    when the file is unreadable."""
    return [ln.record for ln in iter_lines(path, name, limits) if ln.reject is None]


def _record_id(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    rid = raw.get("lcsc") or raw.get("_id") or raw.get("id")
    return None if rid is None else str(rid)[:200]


def parse_records(
    files: list[tuple[Path, str]], kind: RecordKind, limits: Limits = Limits()
) -> ParsedSource:
    """Rows for every valid record; duplicates and invalid records become rejects naming their
    file, line and reason."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    seen: dict[str, tuple[str, int]] = {}
    total = 0
    for path, name in files:
        for ln in iter_lines(path, name, limits):
            total += 1
            if ln.reject is not None:
                rejects.append(Reject(ln.number, None, f"{name}: {ln.reject}"))
                continue
            try:
                row = kind.to_row(ln.record)
            except RejectRecord as exc:
                rejects.append(Reject(ln.number, _record_id(ln.record), f"{name}: {exc}"))
                continue
            if row.id in seen:
                first_file, first_line = seen[row.id]
                where = f"line {first_line}" + ("" if first_file == name else f" of {first_file}")
                rejects.append(
                    Reject(ln.number, row.id, f"{name}: duplicate id (first seen at {where})")
                )
                continue
            seen[row.id] = (name, ln.number)
            rows.append(row)
    return ParsedSource(rows, rejects, total)


def describe_reject(r: Reject) -> str:
    """``<file> line <n>: <reason>`` (a reject's reason starts with its file's name)."""
    name, sep, reason = r.reason.partition(": ")
    return f"{name} line {r.line}: {reason}" if sep else f"line {r.line}: {r.reason}"


def check_reject_rate(parsed: ParsedSource, max_rate: float, source: str) -> None:
    if parsed.total == 0:
        raise RejectRateError(f"{source}: no records found", fix="check the source path and format")
    rate = len(parsed.rejects) / parsed.total
    if rate > max_rate:
        examples = "; ".join(describe_reject(r) for r in parsed.rejects[:3])
        raise RejectRateError(
            f"{source}: {len(parsed.rejects)} of {parsed.total} records rejected "
            f"({rate:.1%} > max_reject_rate {max_rate:.1%}); e.g. {examples}",
            fix="fix the source, or raise SNAPSEARCH_MAX_REJECT_RATE if these rejects are expected",
        )
