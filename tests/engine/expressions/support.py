"""Shared test support: every test module imports `runner`, so each test runs twice,
with celpy's transpiled programs and with its interpreter.

The engine uses transpiled programs and falls back to the interpreter when celpy cannot
transpile an expression; running every case under both proves they compute the same.
(Imported by the modules rather than put in a conftest.py, so the tests also run with
`pytest -p no:django --noconftest`, which skips the project-wide Django conftest.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from engine.expressions import cel, compile_value, expression


@pytest.fixture(autouse=True, params=["auto", "interpreted"])
def runner(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = cel.RUNNER
    cel.RUNNER = request.param
    expression._compile.cache_clear()
    yield request.param
    cel.RUNNER = previous
    expression._compile.cache_clear()


NOW = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)


def null_with_warning(text: str, variables: dict[str, object] | None = None, match: str = "") -> list[str]:
    """FEEL (Camunda 8): a failure inside the expression is null, and the evaluation says why.

    Asserts that `text` evaluates to null and that one of its warnings matches `match` (a regex).
    """
    expression = compile_value(text)
    assert expression.evaluate(variables or {}, now=NOW) is None
    warnings = expression.explain(variables or {}, now=NOW)
    assert any(re.search(match, warning) for warning in warnings), warnings
    return warnings
