"""Suspending a tenant (issue 12): its API callers get a 403 problem, the engine activates none of
its jobs and fires none of its timers until it is resumed; key rotation and revocation end the
old credentials. Each change writes an audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from engine.actions.jobs import activate_jobs
from engine.models import Timer
from engine.runtime.loop import drain
from engine.timers.firing import fire_due_timers
from flowsync.models import AuditEntry
from flowsync.tenancy import revoke_key, rotate_key, set_suspended
from tests.conftest import deploy_file, make_tenant

pytestmark = pytest.mark.django_db


def client(header: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    return api


def test_suspended_tenant_is_refused_and_its_jobs_wait(db):
    creds = make_tenant("acme")
    other = make_tenant("globex")
    api, other_api = client(creds.header), client(other.header)
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    assert deploy_file(other_api, "hello-service-task.bpmn").status_code == 200
    for a in (api, other_api):
        started = a.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
        assert started.status_code == 200
    drain()
    assert set_suspended(creds.tenant, True, "user:root")
    assert not set_suspended(creds.tenant, True, "user:root")  # idempotent: no second entry

    refused = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    assert refused.status_code == 403 and refused["Content-Type"].startswith("application/problem+json")
    assert "suspended" in refused.json()["detail"]
    now = timezone.now()
    from engine.models import Job

    job_type = Job.objects.filter(tenant=creds.tenant).values_list("type", flat=True).first()
    assert activate_jobs([creds.tenant.pk], job_type, "w", 60_000, 10, now) == []
    assert len(activate_jobs([other.tenant.pk], job_type, "w", 60_000, 10, now)) == 1  # others unaffected

    set_suspended(creds.tenant, False, "user:root")
    assert api.get("/v2/topology").status_code == 200
    assert len(activate_jobs([creds.tenant.pk], job_type, "w", 60_000, 10, now)) == 1
    whats = list(AuditEntry.objects.filter(tenant=creds.tenant, what__startswith="tenant.").order_by("id")
                 .values_list("what", "who"))
    assert whats == [("tenant.suspend", "user:root"), ("tenant.resume", "user:root")]


def test_suspended_tenants_timers_wait_until_resumed(db):
    creds = make_tenant("acme")
    api = client(creds.header)
    source = (b'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
              b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://x">'
              b'<bpmn:process id="hourly" isExecutable="true"><bpmn:startEvent id="Every"><bpmn:timerEventDefinition>'
              b'<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>'
              b'</bpmn:startEvent><bpmn:sequenceFlow id="f" sourceRef="Every" targetRef="End"/>'
              b'<bpmn:endEvent id="End"/></bpmn:process></bpmn:definitions>')
    assert deploy_file(api, "hourly.bpmn", source).status_code == 200
    timers = Timer.objects.filter(tenant=creds.tenant, state=Timer.State.ACTIVE)
    assert timers.exists()
    Timer.objects.filter(pk__in=timers.values("pk")).update(due_at=timezone.now() - timedelta(seconds=1))
    set_suspended(creds.tenant, True, "user:root")
    assert fire_due_timers(timezone.now()) == 0
    set_suspended(creds.tenant, False, "user:root")
    assert fire_due_timers(timezone.now()) >= 1


def test_rotate_and_revoke_end_old_credentials(db):
    creds = make_tenant("acme")
    from flowsync.models import ApiKey

    key = ApiKey.objects.get(client_id=creds.client_id)
    assert client(creds.header).get("/v2/topology").status_code == 200
    secret = rotate_key(key, "user:root")
    assert client(creds.header).get("/v2/topology").status_code == 401
    import base64

    new = "Basic " + base64.b64encode(f"{creds.client_id}:{secret}".encode()).decode()
    assert client(new).get("/v2/topology").status_code == 200
    assert revoke_key(key, "user:root") and not revoke_key(key, "user:root")
    assert client(new).get("/v2/topology").status_code == 401
    assert list(AuditEntry.objects.filter(target_key=creds.client_id).values_list("what", flat=True)) == [
        "api-key.revoke", "api-key.rotate"]  # newest first (the trail's order)
