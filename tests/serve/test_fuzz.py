"""The API fuzz drill (issue 11): schemathesis against the served OpenAPI document, in-process,
at least 1,000 cases (positive and negative) over every operation, derandomized so a run is
repeatable; 0 5xx (a batch's items included), every error in the one shape (the HTML pages' 4xx
explain themselves on the page), schema-valid requests accepted and schema-invalid ones refused.
The engine is tests/serve/fuzzing.py; a bigger, random run: ``python bench/fuzz_api.py``.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from schemathesis.python import asgi  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from tests.serve.conftest import make_app  # noqa: E402
from tests.serve.fuzzing import fuzz_app  # noqa: E402

MIN_CASES = 1000
# (positive, negative) cases per operation: the bulk where the inputs are rich
BUDGET: dict[str, tuple[int, int]] = {
    "POST /v1/search": (160, 90),
    "POST /v1/search/batch": (40, 25),
    "POST /v1/lookup": (90, 60),
    "POST /v1/lookup/batch": (40, 25),
    "GET /v1/records": (40, 25),
    "POST /v1/records": (40, 25),
    "POST /v1/context": (40, 25),
    "POST /v1/feedback": (40, 25),
    "GET /": (90, 60),
    "GET /v1/records/{id}": (50, 25),
    "GET /records/{id}": (30, 10),
}
SMALL = (10, 10)  # the rest (few or no parameters: hypothesis stops when it has tried them all)


@pytest.fixture
def fuzzed_app(store: Path, tmp_path: Path) -> Iterator[Starlette]:
    # a copy of the session's store: the feedback cases append to the store's feedback log
    root = tmp_path / "snapshots"
    shutil.copytree(store, root, symlinks=True)
    app = make_app(root)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()  # schemathesis keeps the app's lifespan running until told


def test_fuzz_the_api_from_its_openapi_document(fuzzed_app: Starlette) -> None:
    t0 = time.perf_counter()
    seen = fuzz_app(fuzzed_app, BUDGET, SMALL)
    seconds = time.perf_counter() - t0

    total = sum(seen.values())
    statuses = Counter(status for (_op, _mode, status) in seen.elements())
    print(f"fuzz: {total} cases in {seconds:.1f} s; statuses {dict(sorted(statuses.items()))}")
    assert total >= MIN_CASES
    assert not [s for s in statuses if s >= 500]
    # both kinds of cases reached the search endpoint, and some of each were answered
    # both kinds of cases reached every JSON endpoint, and some of each were answered
    for op in ("POST /v1/search", "POST /v1/search/batch", "POST /v1/lookup",
               "POST /v1/lookup/batch", "POST /v1/records", "POST /v1/context"):
        assert seen[(op, "positive", 200)] > 0, op
        assert sum(n for (o, mode, s), n in seen.items()
                   if o == op and mode == "negative" and s in (400, 422)) > 0, op
    assert seen[("POST /v1/feedback", "positive", 202)] > 0  # the document's example
