"""The API fuzz drill's engine, shared by the test (tests/serve/test_fuzz.py) and the bigger run
(bench/fuzz_api.py): schemathesis generates requests from the served OpenAPI document, valid
(positive) and invalid (negative) ones, runs them in-process against the app, and checks every
answer (schemathesis's checks: no 5xx; status, content type, headers and body as documented;
schema-valid requests accepted, schema-invalid ones refused) and every error's shape.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from starlette.applications import Starlette

from serve.errors import ErrorBody

Seen = Counter[tuple[str, str, int]]


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


def drill(op: Any, mode: GenerationMode, examples: int, seen: Seen,
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
        pass  # every input it could make invalid was tried


def fuzz_app(app: Starlette, budget: dict[str, tuple[int, int]], small: tuple[int, int],
             *, derandomize: bool = True) -> Seen:
    """Run the drill; returns (operation, mode, status) -> cases. Raises on the first failure
    (hypothesis shrinks it and schemathesis prints a curl command that reproduces it)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    seen: Seen = Counter()
    for result in schema.get_all_operations():
        op = result.ok()
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        # nothing to make invalid without parameters or a body: positive cases only
        inputs = any(True for _ in op.iter_parameters()) or bool(
            op.get_request_payload_content_types())
        for mode, examples in zip(modes, budget.get(op.label, small), strict=True):
            if examples and (inputs or mode is GenerationMode.POSITIVE):
                drill(op, mode, examples, seen, derandomize=derandomize)
    return seen
