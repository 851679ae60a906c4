"""Endpoints of the wait-state and task actions: shape validation (400) and unknown keys (404) come first,
then the action runs (never a 5xx)."""

from __future__ import annotations

import pytest

from engine.models import ElementInstance, Job
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


CASES = [
    ("engine.actions.jobs", "fail_job", "post", "/v2/jobs/{job}/failure", {"retries": 1, "errorMessage": "x"},
     {"retries": -1}),
    ("engine.actions.jobs", "throw_error", "post", "/v2/jobs/{job}/error", {"errorCode": "E1"}, {"errorMessage": "x"}),
    ("engine.actions.jobs", "update_job", "patch", "/v2/jobs/{job}", {"changeset": {"retries": 4}},
     {"changeset": {}}),
    ("engine.actions.incidents", "resolve_incident", "post", "/v2/incidents/{incident}/resolution", {},
     {"bogus": 1}),
    ("engine.actions.messages", "publish_message", "post", "/v2/messages/publication",
     {"name": "paid", "correlationKey": "A-1", "timeToLive": 1000}, {"correlationKey": "A-1"}),
    ("engine.actions.messages", "correlate_message", "post", "/v2/messages/correlation",
     {"name": "paid", "correlationKey": "A-1"}, {"name": ""}),
    ("engine.actions.signals", "broadcast_signal", "post", "/v2/signals/broadcast", {"signalName": "go"},
     {"signalName": 5, "x": 1}),
    ("engine.actions.variables", "set_variables", "put", "/v2/element-instances/{element}/variables",
     {"variables": {"a": 1}, "local": True}, {"variables": []}),
]


@pytest.fixture
def keys(hello):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from engine.models import Incident

    ei = ElementInstance.objects.get(element_id="Task_Pay")
    Incident.objects.create(
        key=88, tenant_id=ei.tenant_id, process_instance_key=ei.process_instance_id, process_definition_key=1,
        bpmn_process_id="order-process", element_instance_key=ei.key, element_id="Task_Pay",
        error_type="JOB_NO_RETRIES", created_at=timezone.now())
    return {"job": Job.objects.get().key, "incident": 88, "element": ei.key}


@pytest.mark.parametrize("module,name,method,path,good,bad", CASES)
def test_validation_404_and_then_the_action(api, keys, module, name, method, path, good, bad):
    url = path.format(**keys)
    assert_problem(getattr(api, method)(url, bad, format="json"), 400)
    if "{" in path:
        assert_problem(getattr(api, method)(path.format(job=1, incident=1, element=1), good, format="json"), 404)
    resp = getattr(api, method)(url, good, format="json")
    assert resp.status_code < 500, resp.content
