"""Fixtures of the API tests: a started hello-world instance, problem assertions, clean limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from camunda_orchestration_sdk import CamundaClient

from engine.api.base import backlog
from engine.models import Job
from engine.runtime.loop import drain
from flowsync.auth.credentials import password_cache
from tests.conftest import deploy_file

API_BPMN = Path(__file__).resolve().parent / "bpmn"

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def official_client_config(url: str, creds) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """How the official Camunda 8 Python client is pointed at a live FlowSync with a tenant's API key."""
    return {"CAMUNDA_REST_ADDRESS": url, "CAMUNDA_AUTH_STRATEGY": "BASIC", "CAMUNDA_SDK_LOG_LEVEL": "error",
            "CAMUNDA_BASIC_AUTH_USERNAME": creds.client_id, "CAMUNDA_BASIC_AUTH_PASSWORD": creds.secret}


@pytest.fixture
def camunda(live_server, creds):  # type: ignore[no-untyped-def]
    """The official client, unmodified, against a live server."""
    with CamundaClient(configuration=official_client_config(live_server.url, creds)) as sdk:
        yield sdk


def assert_problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/problem+json"), resp["Content-Type"]
    body = resp.json()
    assert PROBLEM_FIELDS <= set(body) and body["status"] == status, body
    return body


@pytest.fixture(autouse=True)
def _fresh_limits(settings):  # type: ignore[no-untyped-def]
    """No rate limit and no backpressure unless a test sets them; caches start empty."""
    settings.FLOWSYNC_API_RATE_LIMIT = 0
    settings.FLOWSYNC_WAIT_RECHECK_SECONDS = 0.2
    backlog.reset()
    password_cache.clear()
    yield
    backlog.reset()


def start(api, process_id: str = "order-process", **body):  # type: ignore[no-untyped-def]
    resp = api.post("/v2/process-instances", {"processDefinitionId": process_id, **body}, format="json")
    assert resp.status_code == 200, resp.content
    return resp.json()["processInstanceKey"]


@pytest.fixture
def hello(api):  # type: ignore[no-untyped-def]
    """The hello-world process deployed and one instance waiting at its service task."""
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    key = start(api, variables={"orderId": "A-1", "amount": 42})
    drain()
    return key


def api_bpmn(name: str) -> bytes:
    return (API_BPMN / name).read_bytes()


def complete_jobs(api, job_type: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Activate and complete every activatable job of a type; returns their keys."""
    jobs = api.post("/v2/jobs/activation", {"type": job_type, "timeout": 10_000, "maxJobsToActivate": 100,
                                            "requestTimeout": -1}, format="json").json()["jobs"]
    for job in jobs:
        assert api.post(f"/v2/jobs/{job['jobKey']}/completion", format="json").status_code == 204
    drain()
    return [j["jobKey"] for j in jobs]


@pytest.fixture
def review_task(api):  # type: ignore[no-untyped-def]
    """order-flow deployed, one instance past its service task, waiting at the user task."""
    assert deploy_file(api, "order-flow.bpmn", api_bpmn("order-flow.bpmn")).status_code == 200
    key = start(api, "order-flow", variables={"orderId": "A-7"})
    drain()
    complete_jobs(api, "charge")
    assert not Job.objects.filter(state="ACTIVATABLE").exists()
    return key
