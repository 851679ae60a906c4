from __future__ import annotations

import pytest

from tests.engine.conformance.harness import Engine


@pytest.fixture
def engine(creds) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(creds.tenant)
