"""Hot API calls cost a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.api.base import backlog
from engine.models import ProcessInstance
from engine.runtime.loop import drain
from flowsync import metrics
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


class Statements:
    """Every SQL statement sent through psycopg (the ORM's, the engine's fixed SQL, COPY): counting
    at the driver sees what CaptureQueriesContext cannot (engine/store/sql.py bypasses Django's cursor)."""

    def __init__(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        self.sent: list[str] = []
        for name in ("execute", "copy"):
            original = getattr(psycopg.Cursor, name)

            def counted(cur, query, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
                text = str(query)
                # Savepoints are the test's own wrapping transaction (a real request's atomic is BEGIN).
                if not text.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
                    self.sent.append(text[:60])
                return _original(cur, query, *args, **kwargs)

            monkeypatch.setattr(psycopg.Cursor, name, counted)

    def __call__(self, fn):  # type: ignore[no-untyped-def]
        self.sent = []
        result = fn()
        return result, list(self.sent)


def test_the_hot_path_sends_few_statements(api, hello, monkeypatch):
    """Issue #16's budget, per instance of start → service task → end: the API's create, activation
    and completion, and the engine's two batches (here each for five instances)."""
    count = Statements(monkeypatch)
    backlog.reset()
    # Cached per process after first use (the engine's after-commit metrics fill it; a test's
    # transaction never commits).
    metrics.tenant_label(ProcessInstance.objects.get(key=int(hello)).tenant_id)
    resp, sent = count(lambda: api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                                        format="json"))
    assert resp.status_code == 200
    # credentials, backpressure (cached per process), definition, instance + command + wake-up, audit row
    assert len(sent) <= 5, sent
    for _ in range(4):
        start(api)
    done, sent = count(drain)
    assert done == 5
    # claim, commands, open elements of the starting instances; the new rows (COPY per table);
    # the commands marked processed
    assert len(sent) <= 9, sent
    resp, sent = count(lambda: api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000,
                                                                "maxJobsToActivate": 10, "requestTimeout": -1},
                                        format="json"))
    jobs = resp.json()["jobs"]
    assert len(jobs) == 6 and all(j["variables"].get("orderId") == "A-1" for j in jobs[:1])
    assert len(sent) <= 2, sent  # credentials, then jobs with their variables in one statement
    for job in jobs:
        resp, sent = count(lambda job=job: api.post(f"/v2/jobs/{job['jobKey']}/completion", {}, format="json"))
        assert resp.status_code == 204
        assert len(sent) <= 3, sent  # credentials, backpressure (cached), job + command + wake-up
    done, sent = count(drain)
    assert done == 6
    # claim, commands, 8 reads in one pipeline, COPY of the end events and the timeline, one UPDATE per
    # changed table (elements, jobs, instances, commands)
    assert len(sent) <= 18, sent
