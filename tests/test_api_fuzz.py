"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis).

The document is fetched from the running app, so what is fuzzed is what is served. For every
operation, valid requests (the document's examples and generated values) and invalid ones are
sent through the WSGI app: never a 500, every status documented, every body of the documented
type and schema, invalid input refused. Example counts are bounded and derandomized so the run
is quick and the same in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from totalplace.api import openapi_document, register_api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Examples per operation and mode: enough to reach every validation branch, quick to run.
MAX_EXAMPLES = 20
PATHS = list(openapi_document()["paths"])
WITH_PARAMS = [p for p in PATHS if openapi_document()["paths"][p]["get"]["parameters"]]


@pytest.fixture(scope="module")
def api_schema(workspace) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The served OpenAPI document, bound to a bare Flask app over the session workspace."""
    app = Flask(__name__)
    register_api(app, lambda: workspace)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _run(strategy: Any, checks: list[Any], examples: int = MAX_EXAMPLES) -> dict[int, int]:
    """Send ``examples`` cases drawn from ``strategy``; validate each answer; count statuses."""
    seen: dict[int, int] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call()
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=checks)

    run()
    return seen


def _fuzz(api_schema: Any, path: str, mode: GenerationMode, checks: list[Any]) -> dict[int, int]:
    return _run(api_schema[path]["GET"].as_strategy(generation_mode=mode), checks)


@pytest.mark.parametrize("path", PATHS)
def test_valid_requests_are_answered_as_documented(api_schema, path: str) -> None:  # type: ignore[no-untyped-def]
    seen = _fuzz(api_schema, path, GenerationMode.POSITIVE, CHECKS)
    assert seen and all(status < 500 for status in seen)


@pytest.mark.parametrize("path", WITH_PARAMS)
def test_invalid_requests_are_refused_as_documented(api_schema, path: str) -> None:  # type: ignore[no-untyped-def]
    seen = _fuzz(api_schema, path, GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection])
    assert seen and all(400 <= status < 500 for status in seen)


@pytest.mark.parametrize("path", WITH_PARAMS)
def test_documented_examples_are_answered(api_schema, path: str) -> None:  # type: ignore[no-untyped-def]
    strategies = api_schema[path]["GET"].get_strategies_from_examples()
    assert strategies, f"{path} documents no example"
    for strategy in strategies:
        assert set(_run(strategy, CHECKS, examples=2)) == {200}
