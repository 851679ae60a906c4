"""Hot API calls cost a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.runtime.loop import drain
from tests.api.conftest import start

pytestmark = pytest.mark.django_db


def queries(fn) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        resp = fn()
    assert resp.status_code == 200, resp.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("family", ["process-instances", "element-instances", "variables", "jobs", "incidents",
                                    "user-tasks", "process-definitions"])
def test_search_query_count_does_not_grow_with_rows(api, hello, family):
    small = queries(lambda: api.post(f"/v2/{family}/search", {}, format="json"))
    for i in range(5):
        start(api, variables={"orderId": f"X-{i}", "n": i})
    drain()
    large = queries(lambda: api.post(f"/v2/{family}/search", {}, format="json"))
    assert large <= small + 1, (small, large)


def test_activation_query_count(api, hello):
    for i in range(5):
        start(api, variables={"orderId": f"X-{i}"})
    drain()
    count = queries(lambda: api.post("/v2/jobs/activation", {"type": "payment", "timeout": 1000,
                                                             "maxJobsToActivate": 10, "requestTimeout": -1},
                                     format="json"))
    assert count <= 12
