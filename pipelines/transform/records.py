"""Raw version -> validated, normalised rows (+ rejects), read with DuckDB."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from snapsearch.format.errors import SourceError
from snapsearch.format.writer import Reject, Row
from snapsearch.kinds import RecordKind, RejectRecord


class RejectRateError(SourceError):
    """Too many records were rejected."""


@dataclass
class ParsedSource:
    rows: list[Row]
    rejects: list[Reject]
    total: int


def _open_text(path: Path, name: str) -> Iterator[str]:
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        yield from f


def _locate_bad_line(path: Path, name: str) -> tuple[int, str]:
    for lineno, line in enumerate(_open_text(path, name), 1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            return lineno, exc.msg
    return 0, "unknown"


def read_json_objects(path: Path, name: str) -> list[Any]:
    """Parse a JSONL (optionally .gz) raw file with DuckDB; a malformed line fails naming file +
    line."""
    if not (name.endswith(".jsonl") or name.endswith(".jsonl.gz") or name.endswith(".ndjson")):
        raise SourceError(
            f"{name}: unsupported raw format (expected .jsonl or .jsonl.gz)",
            fix="give a JSON-lines file, one record per line",
        )
    con = duckdb.connect()
    try:
        comp = "gzip" if name.endswith(".gz") else "none"
        rel = con.execute(
            "SELECT json FROM read_ndjson_objects(?, compression = ?)", [str(path), comp]
        )
        texts = [r[0] for r in rel.fetchall()]
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        line, why = _locate_bad_line(path, name)
        raise SourceError(
            f"{name}: line {line}: not valid JSON ({why})",
            fix="fix or remove that line in the source, then run again",
        ) from exc
    finally:
        con.close()
    return [json.loads(t) for t in texts]


def parse_records(files: list[tuple[Path, str]], kind: RecordKind) -> ParsedSource:
    """Rows for every valid record; duplicates and invalid records become rejects with a reason."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    total = 0
    for path, name in files:
        for ordinal, raw in enumerate(read_json_objects(path, name), 1):
            total += 1
            try:
                row = kind.to_row(raw)
            except RejectRecord as exc:
                rid = (
                    raw.get("lcsc") or raw.get("_id") or raw.get("id")
                    if isinstance(raw, dict)
                    else None
                )
                rejects.append(
                    Reject(ordinal, str(rid) if rid is not None else None, f"{name}: {exc}")
                )
                continue
            if row.id in seen:
                rejects.append(
                    Reject(
                        ordinal, row.id,
                        f"{name}: duplicate id (first seen in record {seen[row.id]})",
                    )
                )
                continue
            seen[row.id] = ordinal
            rows.append(row)
    return ParsedSource(rows, rejects, total)


def check_reject_rate(parsed: ParsedSource, max_rate: float, source: str) -> None:
    if parsed.total == 0:
        raise RejectRateError(f"{source}: no records found", fix="check the source path and format")
    rate = len(parsed.rejects) / parsed.total
    if rate > max_rate:
        examples = "; ".join(f"record {r.line}: {r.reason}" for r in parsed.rejects[:3])
        raise RejectRateError(
            f"{source}: {len(parsed.rejects)} of {parsed.total} records rejected "
            f"({rate:.1%} > max_reject_rate {max_rate:.1%}); e.g. {examples}",
            fix="fix the source, or raise SNAPSEARCH_MAX_REJECT_RATE if these rejects are expected",
        )
