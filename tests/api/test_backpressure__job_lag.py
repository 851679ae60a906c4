"""Backpressure on job hand-off over real HTTP: while the jobs of a type that live workers poll wait longer
than FLOWSYNC_BACKPRESSURE_JOB_LAG_MS, new instances of the definitions using that type are refused (503
RESOURCE_EXHAUSTED + Retry-After); a type nobody polls refuses nothing, other definitions keep starting,
and answers to running work (completion, failure, activation) are never refused."""

from __future__ import annotations

import time

import httpx
import pytest

from engine.backpressure import job_lag
from engine.bpmn.parser import parse_bpmn
from engine.definitions.cache import graph_of
from engine.models import Job, ProcessDefinition, ProcessInstance
from engine.runtime.loop import drain
from tests.conftest import bpmn_file

pytestmark = pytest.mark.django_db(transaction=True)


def _variant(process_id: str, job_type: str) -> bytes:
    """The hello-world process under another id, its service task of another job type."""
    return (bpmn_file("hello-service-task.bpmn").replace(b'"order-process"', f'"{process_id}"'.encode())
            .replace(b'type="payment"', f'type="{job_type}"'.encode()))


@pytest.fixture
def http(live_server, creds, settings):  # type: ignore[no-untyped-def]
    settings.FLOWSYNC_BACKPRESSURE_JOB_LAG_MS = 200
    job_lag.reset(forget_polls=True)
    client = httpx.Client(base_url=live_server.url + "/v2", auth=(creds.client_id, creds.secret), timeout=10)
    resources = [("resources", ("order.bpmn", bpmn_file("hello-service-task.bpmn"))),
                 ("resources", ("shipping.bpmn", _variant("shipping-process", "shipping")))]
    assert client.post("/deployments", files=resources).status_code == 200
    yield client
    client.close()
    job_lag.reset(forget_polls=True)


def _start(http: httpx.Client, process_id: str) -> httpx.Response:
    return http.post("/process-instances", json={"processDefinitionId": process_id})


def _activate(http: httpx.Client, job_type: str, n: int) -> list[dict]:  # type: ignore[type-arg]
    resp = http.post("/jobs/activation", json={"type": job_type, "worker": "w", "timeout": 60_000,
                                               "maxJobsToActivate": n, "requestTimeout": -1})
    assert resp.status_code == 200, resp.text
    return resp.json()["jobs"]


def test_a_lagging_live_type_refuses_starts_of_its_definitions_only(http, creds):
    for _ in range(3):
        assert _start(http, "order-process").status_code == 200
    assert _start(http, "shipping-process").status_code == 200
    drain()  # three payment jobs and one shipping job wait
    [taken] = _activate(http, "payment", 1)  # a live payment worker, with room for one job only
    time.sleep(0.3)  # the two payment jobs left have waited longer than the 200 ms allowed
    job_lag.reset()

    refused = _start(http, "order-process")
    assert refused.status_code == 503, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    body = refused.json()
    assert body["title"] == "RESOURCE_EXHAUSTED" and body["status"] == 503, body
    assert "'payment'" in body["detail"] and "'order-process'" in body["detail"], body
    assert int(refused.headers["Retry-After"]) >= 1
    # The next starts by process id are refused from the types the latest definition had, without a look-up.
    assert job_lag.refused_lately(creds.tenant.pk, "order-process") is not None
    assert job_lag.refused_lately(creds.tenant.pk, "shipping-process") is None  # nobody polls its type
    again = _start(http, "order-process")
    assert again.status_code == 503 and again.json()["detail"] == body["detail"], again.text
    # The shipping job waits as long, but nobody polls its type: that process keeps starting.
    assert _start(http, "shipping-process").status_code == 200
    assert ProcessInstance.objects.filter(definition__bpmn_process_id="order-process").count() == 3

    # Answers to running work drain the backlog and are never refused: completion, failure, activation.
    assert http.post(f"/jobs/{taken['jobKey']}/completion", json={}).status_code == 204
    [failing, last] = _activate(http, "payment", 2)
    assert http.post(f"/jobs/{failing['jobKey']}/failure",
                     json={"retries": 0, "errorMessage": "card declined"}).status_code == 204
    assert http.post(f"/jobs/{last['jobKey']}/completion", json={}).status_code == 204
    drain()
    job_lag.reset()
    assert _start(http, "order-process").status_code == 200  # no payment job waits any more


def test_a_type_nobody_polls_refuses_nothing(http):
    assert _start(http, "order-process").status_code == 200
    drain()
    time.sleep(0.3)  # its payment job waits, but no worker has asked for payment jobs
    job_lag.reset()
    assert _start(http, "order-process").status_code == 200
    assert Job.objects.filter(type="payment", state="ACTIVATABLE").count() == 1


def test_the_limit_zero_turns_the_rule_off(http, settings):
    assert _start(http, "order-process").status_code == 200
    assert _start(http, "order-process").status_code == 200
    drain()
    _activate(http, "payment", 1)
    time.sleep(0.3)
    settings.FLOWSYNC_BACKPRESSURE_JOB_LAG_MS = 0
    job_lag.reset()
    assert _start(http, "order-process").status_code == 200


def test_job_types_of_a_definition_are_its_fixed_types_and_listener_types():
    source = _variant("mixed", "payment").replace(
        b'<zeebe:taskDefinition type="payment" retries="3" />',
        b'<zeebe:taskDefinition type="payment" retries="3" /><zeebe:executionListeners>'
        b'<zeebe:executionListener eventType="start" type="audit" /></zeebe:executionListeners>')
    [graph] = parse_bpmn(source, "mixed.bpmn")
    assert graph.job_types() == ("audit", "payment")
    [dynamic] = parse_bpmn(_variant("dynamic", '= &quot;pay-&quot; + region'), "dynamic.bpmn")
    assert dynamic.job_types() == ()  # known only at run time: never counted


def test_the_deployed_graph_names_the_types(http):
    definition = ProcessDefinition.objects.get(bpmn_process_id="shipping-process")
    assert graph_of(definition).job_types() == ("shipping",)

