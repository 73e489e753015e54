"""Build exclusion rules applied to parsed rows: an excluded record is not indexed, and every
rule's count is kept (for the manifest and the gate report; never silently)."""

from __future__ import annotations

from collections.abc import Sequence

from snapsearch.format.writer import Row
from snapsearch.search.exclusion import Rule, build_view, first_rule


def apply_exclusions(
    rows: Sequence[Row], rules: Sequence[Rule]
) -> tuple[list[Row], dict[str, int]]:
    """The rows no rule excludes, and how many each rule excluded (by name, every rule listed;
    a record counts for the first rule that holds)."""
    counts = {r.name: 0 for r in rules}
    if not rules:
        return list(rows), counts
    kept: list[Row] = []
    for row in rows:
        hit = first_rule(rules, build_view(row.filters, row.summary, row.detail, row.id))
        if hit is None:
            kept.append(row)
        else:
            counts[hit.name] += 1
    return kept, counts
