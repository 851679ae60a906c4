"""The walking skeleton's flow through the API client and the engine loop in-process."""

from __future__ import annotations

import pytest

from engine.models import Command, ElementInstance, Event, Job, ProcessInstance, Variable
from engine.runtime.loop import drain
from tests.conftest import bpmn_file, deploy_file

pytestmark = pytest.mark.django_db


def flat_records(instance_key: int) -> list[tuple[str, str | None]]:
    return [
        (r["intent"], r.get("elementId"))
        for e in Event.objects.filter(process_instance_key=instance_key).order_by("id")
        for r in e.records
    ]


def test_deploy_start_activate_complete(api):
    resp = deploy_file(api, "hello-service-task.bpmn")
    assert resp.status_code == 200, resp.content
    ref = resp.json()["deployments"][0]["processDefinition"]
    assert ref["processDefinitionId"] == "order-process" and ref["processDefinitionVersion"] == 1
    assert isinstance(ref["processDefinitionKey"], str)

    resp = api.post(
        "/v2/process-instances",
        {"processDefinitionId": "order-process", "variables": {"orderId": "A-1", "amount": 42}},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    pi_key = resp.json()["processInstanceKey"]
    assert isinstance(pi_key, str)
    assert drain() == 1

    resp = api.post(
        "/v2/jobs/activation",
        {"type": "payment", "worker": "w1", "timeout": 30000, "maxJobsToActivate": 10},
        format="json",
    )
    jobs = resp.json()["jobs"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["variables"] == {"orderId": "A-1", "amount": 42}
    assert job["customHeaders"] == {"currency": "EUR"}
    assert job["processInstanceKey"] == pi_key and job["elementId"] == "Task_Pay"

    resp = api.post(f"/v2/jobs/{job['jobKey']}/completion", {"variables": {"paid": True}}, format="json")
    assert resp.status_code == 204, resp.content
    assert drain() == 1

    resp = api.get(f"/v2/process-instances/{pi_key}")
    assert resp.json()["state"] == "COMPLETED"
    assert resp.json()["endDate"] is not None
    pi = ProcessInstance.objects.get(key=int(pi_key))
    assert {v.name: v.value for v in Variable.objects.filter(process_instance=pi)} == {
        "orderId": "A-1",
        "amount": 42,
        "paid": True,
    }
    assert list(
        ElementInstance.objects.filter(process_instance=pi).order_by("key").values_list("element_id", "state")
    ) == [
        ("order-process", "COMPLETED"),
        ("StartEvent_Order", "COMPLETED"),
        ("Task_Pay", "COMPLETED"),
        ("EndEvent_Order", "COMPLETED"),
    ]
    assert Job.objects.get(key=int(job["jobKey"])).state == "COMPLETED"
    assert [i for i, _ in flat_records(pi.key)] == [
        "ELEMENT_ACTIVATED",
        "VARIABLE_CREATED",
        "VARIABLE_CREATED",
        "ELEMENT_ACTIVATED",
        "ELEMENT_COMPLETED",
        "SEQUENCE_FLOW_TAKEN",
        "ELEMENT_ACTIVATED",
        "JOB_CREATED",
        "JOB_COMPLETED",
        "VARIABLE_CREATED",
        "ELEMENT_COMPLETED",
        "SEQUENCE_FLOW_TAKEN",
        "ELEMENT_ACTIVATED",
        "ELEMENT_COMPLETED",
        "ELEMENT_COMPLETED",
        "PROCESS_INSTANCE_COMPLETED",
    ]
    assert not Command.objects.filter(state="PENDING").exists()


def test_redeploying_identical_content_creates_no_new_version(api):
    first = deploy_file(api, "hello-service-task.bpmn").json()["deployments"][0]["processDefinition"]
    second = deploy_file(api, "hello-service-task.bpmn").json()["deployments"][0]["processDefinition"]
    assert first == second
    changed = deploy_file(
        api,
        "hello-service-task.bpmn",
        content=bpmn_file("hello-service-task.bpmn").replace(b'name="Order"', b'name="Order v2"'),
    )
    assert changed.json()["deployments"][0]["processDefinition"]["processDefinitionVersion"] == 2
