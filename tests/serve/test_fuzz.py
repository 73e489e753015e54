"""The API fuzz drill: schemathesis generates requests from the served OpenAPI document, valid
(positive) and invalid (negative) ones, and runs them in-process against the app.

Every answer passes schemathesis's checks (no 5xx; status, content type, headers and body as the
document says; schema-valid requests accepted, schema-invalid ones refused), and every error is in
the one shape (the HTML pages' 4xx explain themselves on the page). At least 1,000 cases; the
generation is derandomized so a run is repeatable. A bigger, random run: ``bench/fuzz_api.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from serve.errors import ErrorBody  # noqa: E402
from tests.serve.conftest import make_app  # noqa: E402

MIN_CASES = 1000
# (positive, negative) cases per operation: the bulk where the inputs are rich
BUDGET: dict[str, tuple[int, int]] = {
    "POST /v1/search": (250, 200),
    "GET /": (200, 150),
    "GET /v1/records/{id}": (100, 50),
    "GET /records/{id}": (60, 20),
}
SMALL = (10, 10)  # the rest (few or no parameters: hypothesis stops when it has tried them all)


def check_error_shape(response: Any) -> None:
    """A JSON error is ``ErrorBody`` with the request's id; an HTML page's error explains itself
    in the page."""
    if response.status_code < 400:
        return
    headers = {k: v[0] for k, v in response.headers.items()}  # lowercase keys, list values
    content_type = headers.get("content-type", "")
    if content_type.startswith("text/html"):
        assert b'class="problem"' in response.content, response.content[:500]
        return
    assert content_type == "application/json", content_type
    body = ErrorBody.model_validate_json(response.content)
    assert body.error.request_id == headers["x-request-id"]
    assert body.error.message


def drill(op: Any, mode: GenerationMode, examples: int, seen: Counter[tuple[str, str, int]],
          *, derandomize: bool) -> None:
    """Up to ``examples`` cases of ``op`` in ``mode``, counted in ``seen``."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call()
        seen[(op.label, mode.value, response.status_code)] += 1
        case.validate_response(response)
        check_error_shape(response)

    try:
        run()
    except Unsatisfiable:
        pass  # nothing to make invalid (no parameters, no body)


def fuzz_app(app: Starlette, budget: dict[str, tuple[int, int]], small: tuple[int, int],
             *, derandomize: bool = True) -> Counter[tuple[str, str, int]]:
    """Run the drill; returns (operation, mode, status) -> cases. Raises on the first failure
    (hypothesis shrinks it and schemathesis prints a curl command that reproduces it)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen: Counter[tuple[str, str, int]] = Counter()
    for result in schema.get_all_operations():
        op = result.ok()
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for mode, examples in zip(modes, budget.get(op.label, small), strict=True):
            if examples:
                drill(op, mode, examples, seen, derandomize=derandomize)
    return seen


@pytest.fixture
def fuzzed_app(store: Path) -> Iterator[Starlette]:
    app = make_app(store)
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
    assert seen[("POST /v1/search", "positive", 200)] > 0
    assert sum(n for (op, mode, s), n in seen.items()
               if op == "POST /v1/search" and mode == "negative" and s in (400, 422)) > 0
