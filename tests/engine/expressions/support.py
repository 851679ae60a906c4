"""Shared test support: every test module imports `runner`, so each test runs twice,
with celpy's transpiled programs and with its interpreter.

The engine uses transpiled programs and falls back to the interpreter when celpy cannot
transpile an expression; running every case under both proves they compute the same.
(Imported by the modules rather than put in a conftest.py, so the tests also run with
`pytest -p no:django --noconftest`, which skips the project-wide Django conftest.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.expressions import cel, expression


@pytest.fixture(autouse=True, params=["auto", "interpreted"])
def runner(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = cel.RUNNER
    cel.RUNNER = request.param
    expression._compile.cache_clear()
    yield request.param
    cel.RUNNER = previous
    expression._compile.cache_clear()
