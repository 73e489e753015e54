"""The API fuzz drill's engine, shared by the test (tests/serve/test_fuzz.py) and the bigger run
(bench/fuzz_api.py): schemathesis generates requests from the served OpenAPI document, valid
(positive) and invalid (negative) ones, runs them in-process against the app, and checks every
answer (schemathesis's checks: no 5xx; status, content type, headers and body as documented;
schema-invalid requests refused; schema-valid ones accepted, see ``check_accepted``), every
error's shape, and every batch item's answer (no item failed with ``internal``: a batch answers
200 whatever its items do, so a 5xx inside it is looked for here).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from starlette.applications import Starlette

from serve.errors import ErrorBody

Seen = Counter[tuple[str, str, int]]

# A schema-valid request refused with 422, where the document cannot say more than it does: what
# the served snapshot holds (its collections, and which fields and filters its collections'
# kinds have; the document lists every registered kind's), and two rules JSON Schema cannot put
# on a query string or across a list's items. (operation or "*", error code, field pattern).
# Any other 422 (or 400) to a schema-valid request fails, as schemathesis's own check would.
CONTENT_DEPENDENT: list[tuple[str, str, str]] = [
    # a rule over a field the collection's kind lacks (several collections: invalid_request);
    # a rule name given twice; a pattern that is valid JSON Schema "regex" but not Python's
    ("*", "invalid_exclude|invalid_request", r"exclude\.\d+\.(field|name|matches)"),
    # a filter of another kind than the collection's
    ("*", "filter_not_supported", r"filters\.\w+"),
    # per-collection options name collections the search covers
    ("POST /v1/search", "invalid_request", r"(filters|limits|weights)\..*"),
    ("POST /v1/context", "invalid_request", r"filters\..*"),
    # a field the collection's kind does not sort by
    ("POST /v1/lookup", "invalid_sort", r"sort"),
    # part numbers asked of a collection whose kind has none
    ("*", "invalid_request", r"mpns"),
    # the query string's comma-separated keys: at least one, each 1 to 200 characters
    ("GET /v1/records", "invalid_request", r"ids|mpns|"),
]


# A schema-invalid request may be refused for its size first (413: the body past its limit).
CONFIG = SchemathesisConfig.from_str("""
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                     "429", "5xx"]
""")


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


def check_batch_items(response: Any) -> None:
    """A batch's items: each error in the one shape, none of them ``internal``."""
    if response.status_code != 200 or not response.headers.get("content-type", [""])[0].startswith(
        "application/json"
    ):
        return
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return
    for item in body["results"]:
        if isinstance(item, dict) and "error" in item:
            err = ErrorBody.model_validate(item).error
            assert err.code != "internal", f"a batch item failed: {err.message}"


def check_accepted(case: Any, mode: GenerationMode, response: Any) -> None:
    """A schema-valid request is answered 2xx/3xx, or 404 (no such record or collection), or
    413 (a body past the byte limit: JSON Schema counts no bytes), or refused for what the
    document cannot know (``CONTENT_DEPENDENT``)."""
    label, status = case.operation.label, response.status_code
    if mode is not GenerationMode.POSITIVE or status < 400 or status in (401, 404, 413, 429):
        return
    if status >= 500:
        return  # schemathesis's own check fails it
    body = response.json() if status in (400, 422) else None
    err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    for op, code, field in CONTENT_DEPENDENT:
        if op in ("*", label) and re.fullmatch(code, str(err.get("code"))) and re.fullmatch(
            field, err.get("field") or "", flags=re.DOTALL  # a collection's name may be "\n"
        ):
            return
    raise AssertionError(f"{label}: a schema-valid request was refused with {status}: {err}\n"
                         f"reproduce with: {case.as_curl_command()}")


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
        # schema-valid requests: check_accepted, which knows what the document cannot say
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        check_accepted(case, mode, response)
        check_error_shape(response)
        check_batch_items(response)

    try:
        run()
    except Unsatisfiable:
        pass  # every input it could make invalid was tried


def fuzz_app(app: Starlette, budget: dict[str, tuple[int, int]], small: tuple[int, int],
             *, derandomize: bool = True) -> Seen:
    """Run the drill; returns (operation, mode, status) -> cases. Raises on the first failure
    (hypothesis shrinks it and schemathesis prints a curl command that reproduces it)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
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
