"""429 per tenant (token bucket in Redis), 503 under engine backpressure (reads keep working), 413."""

from __future__ import annotations

import time

import pytest

from engine.api.base import backlog
from engine.connectors import runner
from engine.runtime.loop import drain
from flowsync import ratelimit, redis
from tests.api.conftest import assert_problem, start
from tests.conftest import deploy_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(creds, settings):  # type: ignore[no-untyped-def]
    settings.FLOWSYNC_API_RATE_LIMIT = 500
    tenant = creds.tenant
    tenant.api_rate_limit, tenant.api_burst = 1, 3
    tenant.save()
    ratelimit.reset(tenant)
    yield tenant
    ratelimit.reset(tenant)


def test_rate_limit_answers_429_with_retry_after(api, limited):
    assert [api.get("/v2/topology").status_code for _ in range(3)] == [200, 200, 200]
    resp = api.get("/v2/topology")
    body = assert_problem(resp, 429)
    assert body["title"] == "TOO_MANY_REQUESTS" and int(resp["Retry-After"]) >= 1


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/v2/process-instances/search"),
        ("post", "/v2/process-instances"),
        ("post", "/v2/jobs/activation"),
        ("post", "/v2/messages/publication"),
        ("post", "/v2/incidents/1/resolution"),
        ("post", "/v2/user-tasks/1/completion"),
        ("get", "/v2/variables/1"),
        ("post", "/v2/deployments"),
    ],
)
def test_every_family_is_rate_limited(api, limited, method, path):
    for _ in range(3):
        getattr(api, method)(path, {}, format="json")
    assert_problem(getattr(api, method)(path, {}, format="json"), 429)


def test_other_tenants_have_their_own_bucket(api, other_api, limited):
    for _ in range(4):
        api.get("/v2/topology")
    assert other_api.get("/v2/topology").status_code == 200


def test_unlimited_when_rate_is_zero(api, creds, settings):
    settings.FLOWSYNC_API_RATE_LIMIT = 0
    assert all(api.get("/v2/topology").status_code == 200 for _ in range(20))


def test_backpressure_refuses_commands_but_not_reads(api, settings):
    deploy_file(api, "hello-service-task.bpmn")
    keys = [start(api), start(api)]  # two pending commands, no engine running
    settings.FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS = 1
    backlog.reset()
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    body = assert_problem(resp, 503)
    assert body["title"] == "RESOURCE_EXHAUSTED" and int(resp["Retry-After"]) >= 1
    for path in (f"/v2/process-instances/{keys[0]}/cancellation", "/v2/jobs/1/completion", "/v2/jobs/1/failure",
                 "/v2/messages/publication", "/v2/incidents/1/resolution", "/v2/user-tasks/1/completion"):
        assert_problem(api.post(path, {}, format="json"), 503)
    assert api.get(f"/v2/process-instances/{keys[0]}").status_code == 200
    assert api.post("/v2/process-instances/search", {}, format="json").status_code == 200
    resp = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 1000, "maxJobsToActivate": 1,
                                            "requestTimeout": -1}, format="json")
    assert resp.status_code == 200
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200  # deploying writes no command


def test_request_size_limit(api, settings):
    settings.FLOWSYNC_API_MAX_BODY_BYTES = 1000
    resp = api.post("/v2/process-instances", {"processDefinitionId": "x", "variables": {"a": "x" * 2000}},
                    format="json")
    assert assert_problem(resp, 413)["title"] == "PAYLOAD_TOO_LARGE"


def test_engine_lag_refuses_new_instances_but_not_answers_to_running_work(api, settings):
    # The engine's lag only: the second start's job waits for a worker from the drain below on, and on a
    # loaded machine that wait passed the job-lag limit (250 ms) and refused the last start (flaky).
    settings.FLOWSYNC_BACKPRESSURE_JOB_LAG_MS = 0
    # Nor the connectors' lag, which an earlier test on this worker may have published (Redis keeps it a while).
    redis.connection(runner.QUEUE).delete(runner.LAG_KEY)
    deploy_file(api, "hello-service-task.bpmn")
    start(api)
    drain()  # its job is activatable
    start(api)  # a start command the engine (not running) leaves pending
    time.sleep(0.05)
    settings.FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS = 20
    backlog.reset()
    resp = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    body = assert_problem(resp, 503)
    assert body["title"] == "RESOURCE_EXHAUSTED" and "behind" in body["detail"] and int(resp["Retry-After"]) >= 1
    jobs = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000, "maxJobsToActivate": 1,
                                            "requestTimeout": -1}, format="json").json()["jobs"]
    assert len(jobs) == 1
    assert api.post(f"/v2/jobs/{jobs[0]['jobKey']}/completion", {}, format="json").status_code == 204
    drain()  # the engine caught up: new work is accepted again
    backlog.reset()
    assert api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                    format="json").status_code == 200
