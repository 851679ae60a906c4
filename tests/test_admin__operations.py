"""The admin as the operator's console (issue 12): a tenant operator (not a superuser) cancels,
resolves and retries through background batches that call the engine's actions, sets variables
with a validated JSON form and deactivates definition versions; each act is audited (via=admin),
batches are idempotent, and a staff user of another tenant sees and touches none of it."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Now
from django.test import Client
from rest_framework.test import APIClient
from rq import SimpleWorker

from engine.models import BatchOperation, Command, Incident, Job, ProcessDefinition, ProcessInstance, WorkerHeartbeat
from engine.runtime.loop import drain
from engine.store import heartbeats
from flowsync import redis
from flowsync.models import AuditEntry, Membership, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import deploy_file, make_tenant

pytestmark = pytest.mark.django_db


def seed(tenant_id: str, n: int) -> tuple[Tenant, APIClient, list[int]]:
    creds = make_tenant(tenant_id)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    assert deploy_file(api, "hello-service-task.bpmn").status_code == 200
    keys = []
    for i in range(n):
        r = api.post("/v2/process-instances", {"processDefinitionId": "order-process", "businessId": f"b{i}"},
                     format="json")
        keys.append(int(r.json()["processInstanceKey"]))
    drain()
    return creds.tenant, api, keys


def staff(name: str, tenant: Tenant, role: str = Role.OPERATOR) -> Client:
    user = User.objects.create_user(name, password="pw-123456789")
    make_tenant_admin(user, tenant)
    Membership.objects.filter(user=user, tenant=tenant).update(role=role)
    client = Client()
    client.force_login(user)
    return client


def run_queued_batches() -> None:
    SimpleWorker([redis.queue("connectors")], connection=redis.connection("connectors")).work(burst=True)


@pytest.fixture
def flushed(flush_redis, settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_operator_cancels_instances_in_a_background_batch_idempotently(flushed, django_capture_on_commit_callbacks):
    acme, _, keys = seed("acme", 25)
    globex, _, theirs = seed("globex", 2)
    sam = staff("sam", acme)
    pks = list(ProcessInstance.objects.values_list("pk", flat=True))  # globex's rows are ignored (scoped)
    with django_capture_on_commit_callbacks(execute=True):
        page = sam.post("/admin/engine/processinstance/", {"action": "cancel_instances", "_selected_action": pks},
                        follow=True)
    assert "queued as" in page.content.decode()
    batch = BatchOperation.objects.get()
    assert batch.tenant == acme and batch.state == "QUEUED" and sorted(map(int, batch.keys)) == sorted(keys)
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "DONE" and len(batch.done) == 25 and not batch.failed and not batch.skipped
    drain()
    assert set(ProcessInstance.objects.filter(key__in=keys).values_list("state", flat=True)) == {"TERMINATED"}
    assert set(ProcessInstance.objects.filter(key__in=theirs).values_list("state", flat=True)) == {"ACTIVE"}
    entries = AuditEntry.objects.filter(what="instance.cancel")
    assert entries.count() == 25 and {(e.who, e.via, e.tenant_id) for e in entries} == {("user:sam", "admin", acme.pk)}
    assert len({e.request_id for e in entries}) == 1 and entries[0].request_id  # the admin request that started it

    # Again: nothing to do, each row skipped with the reason; no new commands or entries.
    commands = Command.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        sam.post("/admin/engine/processinstance/", {"action": "cancel_instances", "_selected_action": pks})
    run_queued_batches()
    again = BatchOperation.objects.order_by("-id").first()
    assert again.state == "DONE" and not again.done and set(again.skipped.values()) == {"already TERMINATED"}
    assert Command.objects.count() == commands and AuditEntry.objects.filter(what="instance.cancel").count() == 25
    detail = sam.get(f"/admin/engine/batchoperation/{again.pk}/change/").content.decode()
    assert "already TERMINATED" in detail and "25/25" in detail

    # A staff user of the other tenant sees neither the batches nor the trail.
    gil = staff("gil", globex)
    assert "user:sam" in sam.get("/admin/engine/batchoperation/").content.decode()
    assert "user:sam" not in gil.get("/admin/engine/batchoperation/").content.decode()
    assert gil.get(f"/admin/engine/batchoperation/{batch.pk}/change/").status_code == 302
    assert "user:sam" not in gil.get("/admin/flowsync/auditentry/").content.decode()


def test_retry_jobs_and_resolve_incidents(flushed, django_capture_on_commit_callbacks):
    acme, api, (key,) = seed("acme", 1)
    job = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000, "maxJobsToActivate": 1},
                   format="json").json()["jobs"][0]
    assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "gone"},
                    format="json").status_code == 204
    drain()
    incident = Incident.objects.get(state="ACTIVE")
    sam = staff("sam", acme)
    job_pk = Job.objects.get(key=int(job["jobKey"])).pk
    # Resolving first fails (no retries left): the batch says why.
    with django_capture_on_commit_callbacks(execute=True):
        sam.post("/admin/engine/incident/", {"action": "resolve_incidents", "_selected_action": [incident.pk]})
    run_queued_batches()
    failed = BatchOperation.objects.get()
    assert "no retries left" in failed.failed[str(incident.key)]
    # No retries given: refused with a message, nothing queued.
    page = sam.post("/admin/engine/job/", {"action": "retry_jobs", "_selected_action": [job_pk], "retries": ""},
                    follow=True)
    assert "Give the new retries" in page.content.decode() and BatchOperation.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        sam.post("/admin/engine/job/", {"action": "retry_jobs", "_selected_action": [job_pk], "retries": "2"})
    run_queued_batches()
    retry = BatchOperation.objects.order_by("-id").first()
    assert retry.done == [job["jobKey"]] and retry.params == {"retries": 2}
    drain()
    assert Job.objects.get(key=int(job["jobKey"])).retries == 2
    assert Incident.objects.get(pk=incident.pk).state == "RESOLVED"
    # Each batch is audited when created (batch.create), then each act it performs.
    assert list(AuditEntry.objects.filter(via="admin").order_by("id").values_list("what", flat=True)) == [
        "batch.create", "batch.create", "job.update", "incident.resolve"]


def test_set_variables_form_validates_and_calls_the_action(flushed):
    acme, _, (key,) = seed("acme", 1)
    sam = staff("sam", acme)
    pk = ProcessInstance.objects.get(key=key).pk
    url = f"/admin/engine/processinstance/{pk}/variables/"
    assert "Set variables" in sam.get(f"/admin/engine/processinstance/{pk}/change/").content.decode()
    bad = sam.post(url, {"variables": '{"a": 1,'})
    assert bad.status_code == 200 and "not valid JSON" in bad.content.decode()
    assert "non-empty JSON object" in sam.post(url, {"variables": "[1]"}).content.decode()
    assert not Command.objects.filter(kind="SET_VARIABLES").exists()
    ok = sam.post(url, {"variables": '{"approved": true}'})
    assert ok.status_code == 302
    assert Command.objects.filter(kind="SET_VARIABLES", process_instance_key=key).count() == 1
    entry = AuditEntry.objects.get(what="variables.set")
    assert entry.after == {"names": ["approved"], "local": True} and entry.via == "admin"
    # A member (no OPERATE) is refused the page; another tenant's instance is not found.
    globex, _, (theirs,) = seed("globex", 1)
    gil = staff("gil", globex)
    assert gil.post(url, {"variables": '{"x": 1}'}).status_code == 404


def test_deactivated_version_takes_no_new_instances(flushed):
    acme, api, _ = seed("acme", 0)
    definition = ProcessDefinition.objects.get(tenant=acme)
    operator = staff("sam", acme)  # operators may not: deploying and versions are integrators' and admins'
    operator.post("/admin/engine/processdefinition/", {"action": "deactivate", "_selected_action": [definition.pk]})
    assert not ProcessDefinition.objects.get(pk=definition.pk).deactivated
    admin = staff("ada", acme, Role.ADMIN)
    admin.post("/admin/engine/processdefinition/", {"action": "deactivate", "_selected_action": [definition.pk]})
    assert ProcessDefinition.objects.get(pk=definition.pk).deactivated
    refused = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json")
    assert refused.status_code == 409 and "deactivated" in refused.json()["detail"]
    admin.post("/admin/engine/processdefinition/", {"action": "reactivate", "_selected_action": [definition.pk]})
    assert api.post("/v2/process-instances", {"processDefinitionId": "order-process"},
                    format="json").status_code == 200
    assert list(AuditEntry.objects.filter(what__startswith="definition.").order_by("id").values_list(
        "what", "who")) == [("definition.deactivate", "user:ada"), ("definition.reactivate", "user:ada")]


BROKEN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
          b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://x">\n'
          b'<bpmn:process id="broken" isExecutable="true">\n<bpmn:startEvent id="Start"/>\n'
          b'<bpmn:serviceTask id="Charge"/>\n<bpmn:sequenceFlow id="f" sourceRef="Start" targetRef="Charge"/>\n'
          b'</bpmn:process></bpmn:definitions>')


def test_deploy_with_problems_inline_then_start_from_the_definition_page(flushed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import bpmn_file

    acme = make_tenant("acme").tenant
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=make_tenant("globex").header)
    api_problem = api.post("/v2/deployments", {"resources": SimpleUploadedFile("broken.bpmn", BROKEN)},
                           format="multipart").json()
    ada = staff("ada", acme, Role.INTEGRATOR)
    assert "Deploy files" in ada.get("/admin/engine/deployment/").content.decode()
    page = ada.post("/admin/engine/deployment/deploy/", {"tenant": acme.pk,
                                                          "files": [SimpleUploadedFile("broken.bpmn", BROKEN)]})
    text = page.content.decode()
    assert page.status_code == 200 and "deploy-problems" in text
    for p in api_problem["problems"]:  # exactly what the API reports: file, line, element, message
        assert html.escape(p["message"]) in text
        assert (p["elementId"] or "") in text and str(p["line"] or "") in text
    assert "broken.bpmn" in text and not ProcessDefinition.objects.filter(tenant=acme).exists()

    ok = ada.post("/admin/engine/deployment/deploy/", {
        "tenant": acme.pk, "files": [SimpleUploadedFile("hello.bpmn", bpmn_file("hello-service-task.bpmn"))]})
    assert ok.status_code == 302
    definition = ProcessDefinition.objects.get(tenant=acme)
    assert AuditEntry.objects.get(what="deploy", tenant=acme).who == "user:ada"

    # An operator may start but not deploy: the tenant is not offered.
    sam = staff("sam", acme)
    assert sam.post("/admin/engine/deployment/deploy/", {"tenant": acme.pk}).status_code == 200
    url = f"/admin/engine/processdefinition/{definition.pk}/start/"
    assert "Start an instance" in sam.get(f"/admin/engine/processdefinition/{definition.pk}/change/").content.decode()
    assert "not valid JSON" in sam.post(url, {"variables": "{x", "business_id": ""}).content.decode()
    started = sam.post(url, {"variables": '{"orderId": "A-1"}', "business_id": "B-1"}, follow=True)
    instance = ProcessInstance.objects.get(tenant=acme)
    assert instance.business_key == "B-1"
    assert f'href="/inspector/instances/{instance.key}/"' in started.content.decode()
    assert AuditEntry.objects.get(what="instance.start").via == "admin"
    # Another tenant's staff cannot open the page.
    gil = staff("gil", Tenant.objects.get(tenant_id="globex"))
    assert gil.get(url).status_code == 404


def test_dashboard_counts_only_the_users_tenants(flushed):
    acme, api, keys = seed("acme", 3)
    job = api.post("/v2/jobs/activation", {"type": "payment", "timeout": 60_000, "maxJobsToActivate": 1},
                   format="json").json()["jobs"][0]
    api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "gone"}, format="json")
    drain()
    globex, _, _ = seed("globex", 5)
    text = staff("sam", acme).get("/admin/").content.decode()
    board = text.split('id="operator-dashboard"')[1].split("</div>")[0]
    assert "<td>acme</td><td><a href=\"/inspector/?process=order-process\">order-process</a></td>" in board
    assert 'state=ACTIVE">3</a>' in board and "globex" not in board
    assert 'href="/inspector/incidents/?process=order-process">1</a>' in board
    assert "JOB_NO_RETRIES" in board and "payment" in board
    assert 'href="/inspector/?incident_type=JOB_NO_RETRIES"' in board
    assert "<td>5</td>" not in board


def test_dashboard_shows_engine_workers_with_their_last_heartbeat_and_links_into_the_inspector(flushed):
    acme, api, keys = seed("acme", 2)
    heartbeats.register("alive-worker@host-a", "host-a", 101, "1.0")
    heartbeats.register("lost-worker@host-b", "host-b", 202, "1.0")
    WorkerHeartbeat.objects.filter(id="lost-worker@host-b").update(last_seen=Now() - timedelta(minutes=5))
    text = staff("sam", acme).get("/admin/").content.decode()
    workers = text.split('id="engine-workers"')[1].split("</table>")[0]
    assert 'class="worker-alive"' in workers and "alive-worker@host-a" in workers and "host-a" in workers
    lost = workers.split('class="worker-lost"')[1].split("</tr>")[0]
    assert "LOST" in lost and "lost-worker@host-b" in lost
    assert 'href="/inspector/engine/"' in workers
    board = text.split('id="operator-dashboard"')[1]
    assert 'href="/inspector/?process=order-process&amp;state=ACTIVE">2</a>' in board
