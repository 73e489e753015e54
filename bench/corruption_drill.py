"""Corruption drill, the full sweep: every byte of the manifest, its seal and the gate report,
bytes of every data file, truncation, deletion, extra files and edited manifest values; each
must be refused by `verify` (naming the file), by the server before it is ready, and by
rollback. See eval/drivers/corruption.py for the damages and the three doors.

    python bench/corruption_drill.py [--records N] [--data-samples N] [--json PATH]

Defaults: 300 records of the bundled sample (hashing encoder), every byte of the manifest, its
seal and the gate report, 256 sampled bytes per data file (``--data-samples 0``: every byte of
every data file too, hours). Prints a table and writes
JSON (default bench/out/corruption-drill.json); the exit code is 1 unless 100 % are refused.
The fast version runs in the tests (tests/drills/test_corruption.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from eval.drivers.corruption import CHECKS, drill

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=300)
    ap.add_argument("--data-samples", type=int, default=256, help="0: every byte")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "corruption-drill.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="corruption-drill-") as work:
        summary = drill(Path(work), records=args.records,
                        data_samples=args.data_samples or None,
                        progress=lambda n: print(f"  {n} damages checked", file=sys.stderr)
                        if n % 1000 == 0 else None)
    print(f"\ncorruption drill: {summary['cases']} damages in {summary['seconds']} s")
    print(f"{'damage':<10}{'target':<34}{'cases':>7}" + "".join(f"{c:>10}" for c in CHECKS)
          + f"{'named':>8}")
    for r in summary["rows"]:
        print(f"{r['kind']:<10}{r['target']:<34}{r['cases']:>7}"
              + "".join(f"{r[c]:>10}" for c in CHECKS) + f"{r['named']:>8}")
    pct = summary["refused_pct"]
    print("refused: " + ", ".join(f"{c} {pct[c]:.1f} %" for c in CHECKS)
          + f"; named by verify {summary['named_pct']:.1f} %; "
          f"all three {summary['all_refused_pct']:.1f} %")
    for f in summary["failures"][:10]:
        print(f"  NOT REFUSED: {f['kind']} {f['target']} {f['detail']}: {f['refused']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0 if summary["failure_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
