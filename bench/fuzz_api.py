"""The API fuzz drill, bigger and random: ``python bench/fuzz_api.py [--scale 10] [--seed N]
[--root STORE] [--json bench/out/fuzz.json]``.

The same engine as the test (tests/serve/fuzzing.py: schemathesis from the served OpenAPI
document, positive and negative cases, every answer checked, every error's shape checked), with
the test's per-operation budget times ``--scale`` and fresh random cases each run (unless
``--seed``). The store is a 300-part snapshot built from the bundled sample with the hashing
encoder, or ``--root`` (with ``SNAPSEARCH_ENCODER`` naming its model; then ``POST
/v1/feedback`` gets negative cases only, as a valid one would append to that store's feedback
log). Prints a table per operation and mode; writes the figures as JSON. Exit 1 on the first
failing case (schemathesis prints a curl command that reproduces it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import seed as hypothesis_seed  # noqa: E402
from schemathesis.python import asgi  # noqa: E402

from serve.app import create_app  # noqa: E402
from snapsearch.settings import SAMPLE_SOURCE, ServeSettings, load_settings  # noqa: E402
from tests.conftest import build_into, pick  # noqa: E402
from tests.serve.fuzzing import fuzz_app  # noqa: E402
from tests.serve.test_fuzz import BUDGET, SMALL  # noqa: E402

FEEDBACK = "POST /v1/feedback"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10.0, help="times the test's budget")
    ap.add_argument("--seed", type=int, default=None, help="repeat a run (default: random)")
    ap.add_argument("--root", type=Path, default=None, help="a store to serve (default: built)")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "fuzz.json")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="fuzz-")
    if args.root is None:
        with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        root = Path(tmp.name) / "snapshots"
        build_into(root, pick(lines, 0, 300))
        settings = ServeSettings(root=root, reload_poll_s=0)
    else:
        settings = load_settings(ServeSettings, {"root": args.root, "reload_poll_s": 0})
    app = create_app(settings)
    budget = {op: (round(p * args.scale), round(n * args.scale)) for op, (p, n) in BUDGET.items()}
    small = (round(SMALL[0] * args.scale), round(SMALL[1] * args.scale))
    if args.root is not None:  # never append to a real store's feedback log
        budget[FEEDBACK] = (0, budget.get(FEEDBACK, small)[1])

    t0 = time.perf_counter()
    try:
        if args.seed is not None:
            hypothesis_seed(args.seed)
        seen = fuzz_app(app, budget, small, derandomize=args.seed is not None)
    finally:
        asgi.shutdown_lifespans()
        tmp.cleanup()
    seconds = time.perf_counter() - t0

    rows: dict[tuple[str, str], Counter[int]] = {}
    for (op, mode, status), n in seen.items():
        rows.setdefault((op, mode), Counter())[status] += n
    print(f"{'operation':<24} {'mode':<9} {'cases':>6}  statuses")
    for (op, mode), statuses in sorted(rows.items()):
        text = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        print(f"{op:<24} {mode:<9} {sum(statuses.values()):>6}  {text}")
    total = sum(seen.values())
    server_errors = sum(n for (_op, _mode, s), n in seen.items() if s >= 500)
    print(f"{total} cases in {seconds:.1f} s; 5xx: {server_errors}; failed checks: 0")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "cases": total, "seconds": round(seconds, 1), "server_errors": server_errors,
        "failed_checks": 0, "scale": args.scale, "seed": args.seed,
        "by_operation": {f"{op} {mode}": dict(sorted(st.items()))
                         for (op, mode), st in sorted(rows.items())},
    }, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
