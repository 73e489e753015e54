"""Build the committed query suites from their needs and the parts data, deterministically.

Each suite ``eval/suites/<name>.jsonl`` is written from ``eval/suites/needs/<name>.jsonl``
(:mod:`eval.needs`) and one parts file: a need becomes one suite line (``id``, ``kind``,
``query``, then ``filters`` and ``constraints`` when it has them, then ``expected``: the LCSC ids
of the records that match it, in numeric order). Same needs and same data give the same bytes.

The build stops with :class:`SuiteBuildError` naming the need when its constraints are satisfied
by no record (kind ``unsatisfiable``: by any record), when it matches no record, or when its
answer set is too large: over ``max_expected`` in a ``strict`` suite (every line lists its ids),
or over ``max_expected`` without constraints in the other (a line with constraints then carries
only those).

``python -m eval suites`` runs this; ``--check`` compares instead of writing.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.compliance import record_satisfies
from eval.needs import EXACT_FIELDS, Need, load_needs, matches
from eval.suite import parse_query

__all__ = [
    "DEFAULT_FULL_PARTS",
    "SAMPLE_PARTS",
    "BuiltSuite",
    "Parts",
    "SuiteBuildError",
    "SuiteSpec",
    "build_line",
    "build_suite",
    "read_records",
    "suite_specs",
]

REPO = Path(__file__).resolve().parents[1]
SUITES_DIR = REPO / "eval" / "suites"
"""Where the suites are written; their needs are in ``needs/`` below it."""
SAMPLE_PARTS = REPO / "data" / "sample" / "parts-3k.jsonl.gz"
DEFAULT_FULL_PARTS = REPO.parent / "shared" / "data" / "jlcpcb_parts" / "parts.jsonl"

Record = dict[str, Any]


class SuiteBuildError(ValueError):
    """A need that cannot become a suite line as written; the message names the need."""


@dataclass(frozen=True)
class SuiteSpec:
    """One committed suite: its name, the parts file it judges and its answer-set limits."""

    name: str
    parts: Path
    max_expected: int
    strict: bool  # every line lists its answer set; else a large one is left to the constraints
    directory: Path = SUITES_DIR

    @property
    def needs_path(self) -> Path:
        return self.directory / "needs" / f"{self.name}.jsonl"

    @property
    def out_path(self) -> Path:
        return self.directory / f"{self.name}.jsonl"


def suite_specs(full_parts: Path = DEFAULT_FULL_PARTS, directory: Path | None = None) -> tuple[
    SuiteSpec, ...
]:
    """The committed suites: the bundled-sample one and the 25k one (its parts file given)."""
    where = directory or SUITES_DIR
    return (
        SuiteSpec("parts-sample", SAMPLE_PARTS, max_expected=60, strict=True, directory=where),
        SuiteSpec("parts-25k", full_parts, max_expected=200, strict=False, directory=where),
    )


def read_records(path: Path) -> list[Record]:
    """A parts JSONL file (``.gz`` too), one record per non-blank line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


class Parts:
    """The parts a suite judges, grouped by the value of a field on first use (for speed only).

    An ``lcsc`` or ``mpn`` need looks its query up. A constraint on ``subcategory``,
    ``category``, ``package`` or ``library_type`` holds for a record exactly when it holds for
    any record with the same value, so it is checked once per distinct value; every condition of
    the need is then checked on the records that pass.
    """

    INDEXED = ("subcategory", "category", "package", "library_type")

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self._groups: dict[str, dict[str, list[Record]]] = {}

    def candidates(self, need: Need) -> Sequence[Record]:
        """A superset of the need's answer set: the records with its LCSC number or part number,
        or those meeting its first indexed constraint (all of them when it has none)."""
        if need.kind in EXACT_FIELDS:
            return self._by(EXACT_FIELDS[need.kind]).get(need.query, [])
        field = next((f for f in need.constraints if f in self.INDEXED), None)
        if field is None:
            return self.records
        one = {field: need.constraints[field]}
        return [r for group in self._by(field).values() if record_satisfies(group[0], one)
                for r in group]

    def _by(self, field: str) -> dict[str, list[Record]]:
        if field not in self._groups:
            groups: dict[str, list[Record]] = {}
            for r in self.records:
                value = r.get(field)
                if isinstance(value, str):  # a string constraint never holds on anything else
                    groups.setdefault(value, []).append(r)
            self._groups[field] = groups
        return self._groups[field]


def _lcsc_key(part: str) -> tuple[int, str]:
    digits = part[1:]
    return (int(digits), part) if digits.isdigit() else (sys.maxsize, part)


def build_line(
    need: Need, parts: Parts | Sequence[Record], max_expected: int, strict: bool
) -> tuple[dict[str, Any], int]:
    """The suite line for ``need`` and the size of its answer set (see the module docstring)."""
    if not isinstance(parts, Parts):
        parts = Parts(parts)
    line: dict[str, Any] = {"id": need.id, "kind": need.kind, "query": need.query}
    if need.filters is not None:
        line["filters"] = need.filters
    constraints = need.constraints
    records = parts.candidates(need)
    if constraints:
        line["constraints"] = constraints
        satisfiable = any(record_satisfies(r, constraints) for r in records)
        if need.kind == "unsatisfiable":
            if satisfiable:
                raise SuiteBuildError(
                    f"{need.id}: meant to be unsatisfiable, but records satisfy it"
                )
            return line, 0
        if not satisfiable:
            raise SuiteBuildError(f"{need.id}: no record satisfies its constraints")
    hits = sorted((r["lcsc"] for r in records if matches(need, r)), key=_lcsc_key)
    if not hits:
        raise SuiteBuildError(f"{need.id}: no record matches {need.query!r}")
    if len(hits) > max_expected:
        if strict or not constraints:
            raise SuiteBuildError(
                f"{need.id}: {len(hits)} matches (> {max_expected}); narrow the need"
            )
        return line, len(hits)  # too many to list: the constraints carry the need
    line["expected"] = hits
    return line, len(hits)


@dataclass(frozen=True)
class BuiltSuite:
    """A suite as the builder writes it."""

    spec: SuiteSpec
    text: str

    def kinds(self) -> dict[str, int]:
        """Queries by kind, sorted by kind."""
        counts = Counter(json.loads(line)["kind"] for line in self.text.splitlines())
        return dict(sorted(counts.items()))

    def is_current(self) -> bool:
        """Whether the committed file holds exactly these bytes."""
        path = self.spec.out_path
        return path.is_file() and path.read_bytes() == self.text.encode("utf-8")

    def write(self) -> None:
        self.spec.out_path.write_text(self.text, encoding="utf-8")


def build_suite(
    spec: SuiteSpec,
    records: Sequence[Record] | None = None,
    report: Callable[[str], None] | None = None,
) -> BuiltSuite:
    """Evaluate the spec's needs against its parts (read from ``spec.parts`` unless given).

    ``report`` receives one line per need: kind, answer-set size, whether the ids are listed.
    """
    needs = load_needs(spec.needs_path)
    parts = Parts(read_records(spec.parts) if records is None else records)
    lines: list[str] = []
    for need in needs:
        line, n = build_line(need, parts, spec.max_expected, spec.strict)
        try:
            parse_query(line, default_id=need.id)  # the suite format's own checks
        except ValueError as err:
            raise SuiteBuildError(f"{need.id}: {err}") from None
        if report:
            shown = "expected" if "expected" in line else "constraints only"
            report(f"  {need.kind:13} {n:5}  {shown:16}  {need.id}: {need.query}")
        lines.append(json.dumps(line, ensure_ascii=False))
    return BuiltSuite(spec, "\n".join(lines) + "\n")
