"""A key of another tenant is 404 on every endpoint family; searches never show another tenant's rows."""

from __future__ import annotations

import pytest
from django.utils import timezone

from engine.models import ElementInstance, Incident, Job, ProcessDefinition, UserTask, Variable
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(api, review_task, hello):  # type: ignore[no-untyped-def]
    ei = ElementInstance.objects.filter(element_id="Task_Pay", state="ACTIVE").get()
    incident = Incident.objects.create(
        key=77, tenant_id=ei.tenant_id, process_instance_key=ei.process_instance_id, process_definition_key=1,
        bpmn_process_id="order-process", element_instance_key=ei.key, element_id="Task_Pay",
        error_type="JOB_NO_RETRIES", error_message="boom", created_at=timezone.now())
    return {
        "definition": ProcessDefinition.objects.first().key,
        "instance": hello,
        "element": ei.key,
        "variable": Variable.objects.first().key,
        "job": Job.objects.get(state="ACTIVATABLE").key,
        "incident": incident.key,
        "task": UserTask.objects.get().key,
    }


ENDPOINTS = [
    ("get", "/v2/process-definitions/{definition}", None),
    ("get", "/v2/process-definitions/{definition}/xml", None),
    ("get", "/v2/process-instances/{instance}", None),
    ("post", "/v2/process-instances/{instance}/cancellation", {}),
    ("get", "/v2/element-instances/{element}", None),
    ("put", "/v2/element-instances/{element}/variables", {"variables": {"a": 1}}),
    ("get", "/v2/variables/{variable}", None),
    ("post", "/v2/jobs/{job}/completion", {}),
    ("post", "/v2/jobs/{job}/failure", {"retries": 1}),
    ("post", "/v2/jobs/{job}/error", {"errorCode": "E"}),
    ("patch", "/v2/jobs/{job}", {"changeset": {"retries": 5}}),
    ("get", "/v2/incidents/{incident}", None),
    ("post", "/v2/incidents/{incident}/resolution", {}),
    ("get", "/v2/user-tasks/{task}", None),
    ("get", "/v2/user-tasks/{task}/form", None),
    ("post", "/v2/user-tasks/{task}/assignment", {"assignee": "x"}),
    ("delete", "/v2/user-tasks/{task}/assignee", None),
    ("post", "/v2/user-tasks/{task}/completion", {}),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_other_tenant_gets_404(api, other_api, keys, method, path, body):
    url = path.format(**keys)
    resp = getattr(other_api, method)(url, body, format="json") if body is not None else getattr(other_api, method)(
        url)
    assert_problem(resp, 404)


@pytest.mark.parametrize("family", ["process-definitions", "process-instances", "element-instances", "variables",
                                    "jobs", "incidents", "user-tasks"])
def test_other_tenant_searches_are_empty(api, other_api, keys, family):
    assert api.post(f"/v2/{family}/search", {}, format="json").json()["page"]["totalItems"] > 0
    other = other_api.post(f"/v2/{family}/search", {}, format="json").json()
    assert other["items"] == [] and other["page"]["totalItems"] == 0
    # Asking for the tenant by name does not help either.
    other = other_api.post(f"/v2/{family}/search", {"filter": {"tenantId": "<default>"}}, format="json").json()
    assert other["items"] == []


@pytest.mark.parametrize("path,body", [
    ("/v2/process-instances", {"processDefinitionId": "order-process", "tenantId": "<default>"}),
    ("/v2/messages/publication", {"name": "m", "tenantId": "<default>"}),
    ("/v2/messages/correlation", {"name": "m", "tenantId": "<default>"}),
    ("/v2/signals/broadcast", {"signalName": "s", "tenantId": "<default>"}),
    ("/v2/jobs/activation", {"type": "charge", "timeout": 1000, "maxJobsToActivate": 1, "tenantIds": ["<default>"]}),
])
def test_naming_another_tenant_is_forbidden(other_api, keys, path, body):
    assert_problem(other_api.post(path, body, format="json"), 403)


def test_start_by_another_tenants_definition_key_is_404(other_api, keys):
    resp = other_api.post("/v2/process-instances", {"processDefinitionKey": str(keys["definition"])}, format="json")
    assert_problem(resp, 404)
