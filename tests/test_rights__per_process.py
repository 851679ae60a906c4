"""Per-process rights (django-guardian, issue 12): a grant on one process id gives a member that
right on that process and nothing more, on every surface (API, CLI, admin, Inspector, Tasklist),
through the one rule (flowsync.rights.Rights, engine.rights.require_on). Each test grants one
right on process "granted" and checks the same act on process "other" is refused, unchanged."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from engine.models import Command, ProcessInstance, UserTask
from engine.rights import Right, set_grant
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, ProcessAccess, Role, Tenant
from flowsync.staff import make_tenant_admin
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db

PASSWORD = "per-process-pw-1"

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review {pid}">
      <bpmn:extensionElements><zeebe:userTask/>
        <zeebe:assignmentDefinition candidateGroups="clerks"/></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass
class World:
    tenant: Tenant
    pia: User  # a member (no clerk), the one who gets grants
    mine: list[int]  # instances of "granted"
    theirs: list[int]  # instances of "other"

    def grant(self, right: Right) -> None:
        assert set_grant(self.tenant, "granted", self.pia, right, True, "user:root")

    def task(self, keys: list[int]) -> UserTask:
        return UserTask.objects.get(process_instance_key=keys[0])


@pytest.fixture
def world(db, settings) -> World:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    creds = make_tenant("acme")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    started: dict[str, list[int]] = {}
    for pid in ("granted", "other"):
        upload = SimpleUploadedFile(f"{pid}.bpmn", BPMN.format(pid=pid).encode())
        assert api.post("/v2/deployments", {"resources": [upload]}, format="multipart").status_code == 200
        started[pid] = [int(api.post("/v2/process-instances", {"processDefinitionId": pid}, format="json")
                            .json()["processInstanceKey"]) for _ in range(2)]
    drain()
    pia = User.objects.create_user("pia", password=PASSWORD)
    Membership.objects.create(user=pia, tenant=creds.tenant, role=Role.MEMBER)
    return World(creds.tenant, pia, started["granted"], started["other"])


def as_pia() -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"pia:{PASSWORD}".encode()).decode())
    return api


def commands(kind: str) -> int:
    return Command.objects.filter(kind=kind).count()


def test_api_start_read_operate_and_tasks_only_on_the_granted_process(world):
    api = as_pia()
    start = {"processDefinitionId": "granted"}
    assert api.post("/v2/process-instances", start, format="json").status_code == 403
    world.grant(Right.START)
    assert api.post("/v2/process-instances", start, format="json").status_code == 200
    refused = api.post("/v2/process-instances", {"processDefinitionId": "other"}, format="json")
    assert refused.status_code == 403 and "'other'" in refused.json()["detail"]
    # START on a process is not START in the tenant: messages and signals stay refused.
    assert api.post("/v2/messages/publication", {"name": "m", "timeToLive": 0}, format="json").status_code == 403
    assert api.post("/v2/process-instances/search", {}, format="json").status_code == 403  # no READ yet

    world.grant(Right.READ)
    found = api.post("/v2/process-instances/search", {}, format="json").json()["items"]
    assert {i["processDefinitionId"] for i in found} == {"granted"} and len(found) == 3
    assert api.get(f"/v2/process-instances/{world.theirs[0]}").status_code == 404
    assert api.get(f"/v2/process-instances/{world.mine[0]}").status_code == 200
    assert api.post(f"/v2/process-instances/{world.mine[0]}/cancellation").status_code == 403  # no OPERATE yet

    world.grant(Right.OPERATE)
    assert api.post(f"/v2/process-instances/{world.mine[0]}/cancellation").status_code == 204
    assert api.post(f"/v2/process-instances/{world.theirs[0]}/cancellation").status_code == 403
    assert commands("CANCEL_INSTANCE") == 1

    # Tasks: offered to "clerks" (not pia) — until pia may work the granted process's tasks.
    assert api.post("/v2/user-tasks/search", {}, format="json").json()["items"] == []
    world.grant(Right.WORK_TASKS)
    api = as_pia()  # grants are read when a request authenticates
    tasks = api.post("/v2/user-tasks/search", {}, format="json").json()["items"]
    assert {t["processDefinitionId"] for t in tasks} == {"granted"}
    mine, theirs = world.task(world.mine[1:]), world.task(world.theirs)
    assert api.post(f"/v2/user-tasks/{mine.key}/assignment", {"assignee": "pia"}, format="json").status_code == 204
    assert api.post(f"/v2/user-tasks/{theirs.key}/assignment", {"assignee": "pia"},
                    format="json").status_code == 404
    assert UserTask.objects.get(key=theirs.key).assignee == ""


def cli(*args: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("flowsync", *args, "--tenant", "acme", "--json", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), None, err.getvalue()
    return 0, json.loads(out.getvalue()), err.getvalue()


def test_cli_as_a_member_with_grants(world):
    code, _, err = cli("instances", "start", "granted", "--as", "pia")
    assert code == 1 and json.loads(err)["status"] == 403
    world.grant(Right.START)
    world.grant(Right.READ)
    world.grant(Right.OPERATE)
    world.grant(Right.WORK_TASKS)
    assert cli("instances", "start", "granted", "--as", "pia")[0] == 0
    code, _, err = cli("instances", "start", "other", "--as", "pia")
    assert code == 1 and json.loads(err)["status"] == 403
    drain()
    listed = cli("instances", "list", "--as", "pia")[1]
    assert {i["processDefinitionId"] for i in listed} == {"granted"} and len(listed) == 3
    assert cli("instances", "variables", str(world.theirs[0]), "--as", "pia")[0] == 1
    assert cli("instances", "variables", str(world.mine[0]), "--variables", '{"ok": true}', "--as", "pia")[0] == 0
    # Several keys: one batch; the other process's keys are refused up front, nothing sent for them.
    code, result, _ = cli("instances", "cancel", str(world.mine[0]), str(world.theirs[0]), "--as", "pia")
    assert code == 0 and result["done"] == [str(world.mine[0])] and str(world.theirs[0]) in result["failed"]
    assert commands("CANCEL_INSTANCE") == 1
    tasks = cli("tasks", "list", "--as", "pia")[1]
    assert {t["processDefinitionId"] for t in tasks} == {"granted"}
    mine = world.task(world.mine[1:])
    assert cli("tasks", "claim", str(mine.key), "--as", "pia")[0] == 0
    assert cli("tasks", "claim", str(world.task(world.theirs).key), "--as", "pia")[0] == 1
    assert cli("tasks", "complete", str(mine.key), "--variables", '{"ok": 1}', "--as", "pia")[0] == 0
    assert UserTask.objects.get(key=mine.key).state == "COMPLETING"


def staff_pia(world: World, role: str) -> Client:
    make_tenant_admin(world.pia, world.tenant)  # staff + the admin pages' model permissions
    Membership.objects.filter(user=world.pia).update(role=role)
    client = Client()
    client.force_login(world.pia)
    return client


def test_admin_lists_starts_and_operates_only_the_granted_process(world, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.ENGINE_INLINE = True  # batches run at commit, in this process
    client = staff_pia(world, Role.MEMBER)
    page = client.get("/admin/engine/processinstance/").content.decode()
    assert str(world.mine[0]) not in page and str(world.theirs[0]) not in page
    world.grant(Right.READ)
    world.grant(Right.OPERATE)
    world.grant(Right.START)
    page = client.get("/admin/engine/processinstance/").content.decode()
    assert str(world.mine[0]) in page and str(world.theirs[0]) not in page
    other = ProcessInstance.objects.get(key=world.theirs[0])
    assert client.get(f"/admin/engine/processinstance/{other.pk}/change/").status_code == 302  # not found
    # A forged selection with the other process's rows: only the granted rows are cancelled.
    pks = list(ProcessInstance.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/engine/processinstance/", {"action": "cancel_instances", "_selected_action": pks})
    assert commands("CANCEL_INSTANCE") == 2
    assert set(Command.objects.filter(kind="CANCEL_INSTANCE").values_list("process_instance_key", flat=True)) == set(
        world.mine)
    granted = ProcessInstance.objects.get(key=world.mine[0]).definition
    response = client.post(f"/admin/engine/processdefinition/{granted.pk}/start/", {"variables": "{}"})
    assert response.status_code == 302 and ProcessInstance.objects.filter(definition=granted).count() == 3
    assert client.get(f"/admin/engine/processdefinition/{other.definition_id}/start/").status_code == 404


def test_admin_page_grants_rights_to_members_only_and_audits(world):
    adam = User.objects.create_user("adam")
    make_tenant_admin(adam, world.tenant)
    outsider = User.objects.create_user("olaf")
    client = Client()
    client.force_login(adam)
    form = {"tenant": world.tenant.pk, "process_id": "granted", "grant_operate": [world.pia.pk]}
    refused = client.post("/admin/flowsync/processaccess/add/", {**form, "grant_read": [outsider.pk]})
    assert refused.status_code == 200 and not ProcessAccess.objects.exists()
    assert client.post("/admin/flowsync/processaccess/add/", form).status_code == 302
    entry = AuditEntry.objects.get(what="rights.grant")
    assert (entry.target_key, entry.after, entry.via) == ("granted", {"user": "pia", "right": "operate"}, "admin")
    access = ProcessAccess.objects.get()
    assert world.pia.has_perm("flowsync.operate_process", access)  # django-guardian's own check agrees
    assert not world.pia.has_perm("flowsync.read_process", access)
    client.post(f"/admin/flowsync/processaccess/{access.pk}/change/", {"grant_operate": []})
    assert not User.objects.get(pk=world.pia.pk).has_perm("flowsync.operate_process", access)
    assert AuditEntry.objects.filter(what="rights.revoke").count() == 1


def test_inspector_auditor_operates_only_the_granted_process(world):
    client = staff_pia(world, Role.AUDITOR)  # reads everything, changes nothing by role
    assert client.get(f"/inspector/instances/{world.theirs[0]}/").status_code == 200
    client.post(f"/inspector/instances/{world.mine[0]}/cancel/", {"confirm": "yes"})
    assert commands("CANCEL_INSTANCE") == 0
    world.grant(Right.OPERATE)
    assert client.post(f"/inspector/instances/{world.mine[0]}/cancel/", {"confirm": "yes"}).status_code == 302
    page = client.post(f"/inspector/instances/{world.theirs[0]}/cancel/", {"confirm": "yes"}, follow=True)
    assert "may not cancel process instances of process &#x27;other&#x27;" in page.content.decode()
    assert list(Command.objects.filter(kind="CANCEL_INSTANCE").values_list("process_instance_key", flat=True)) == [
        world.mine[0]]


def test_tasklist_offers_the_granted_process_tasks(world):
    client = Client()
    client.force_login(world.pia)
    mine, theirs = world.task(world.mine), world.task(world.theirs)
    assert str(mine.key) not in client.get("/tasks/offered/").content.decode()
    world.grant(Right.WORK_TASKS)
    page = client.get("/tasks/offered/").content.decode()
    assert str(mine.key) in page and str(theirs.key) not in page
    assert client.post(f"/tasks/{theirs.key}/claim/").status_code == 404
    client.post(f"/tasks/{mine.key}/claim/")
    assert UserTask.objects.get(key=mine.key).assignee == "pia"
    assert UserTask.objects.get(key=theirs.key).assignee == ""


def test_an_auditor_works_only_the_tasks_of_a_granted_process(world):
    """No WORK_TASKS by role: nothing offered by group, on any surface, until a grant; then that process only."""
    Membership.objects.filter(user=world.pia).update(role=Role.AUDITOR)
    world.pia.groups.add(Group.objects.create(name="clerks"))  # a candidate of every task, by group
    api = as_pia()
    assert api.post("/v2/user-tasks/search", {}, format="json").status_code == 403
    client = Client()
    client.force_login(world.pia)
    mine, theirs = world.task(world.mine), world.task(world.theirs)
    assert str(theirs.key) not in client.get("/tasks/offered/").content.decode()
    world.grant(Right.WORK_TASKS)
    api = as_pia()
    tasks = api.post("/v2/user-tasks/search", {}, format="json").json()["items"]
    assert {t["processDefinitionId"] for t in tasks} == {"granted"}
    page = client.get("/tasks/offered/").content.decode()
    assert str(mine.key) in page and str(theirs.key) not in page
    assert {t["processDefinitionId"] for t in cli("tasks", "list", "--as", "pia")[1]} == {"granted"}


def test_api_read_grant_reaches_variables_element_instances_and_jobs_of_that_process_only(world):
    api = as_pia()
    for path in ("/v2/variables/search", "/v2/element-instances/search", "/v2/jobs/search"):
        assert api.post(path, {}, format="json").status_code == 403, path  # no READ anywhere yet
    mine = ProcessInstance.objects.get(key=world.mine[0])
    theirs = ProcessInstance.objects.get(key=world.theirs[0])
    for instance in (mine, theirs):  # a variable on each instance, through the engine
        call_command("flowsync", "instances", "variables", str(instance.key), "--variables", '{"note": "x"}',
                     "--tenant", "acme", stdout=io.StringIO())
    drain()
    world.grant(Right.READ)
    api = as_pia()
    variables = api.post("/v2/variables/search", {}, format="json").json()["items"]
    assert variables and {v["processInstanceKey"] for v in variables} <= {str(k) for k in world.mine}
    elements = api.post("/v2/element-instances/search", {}, format="json").json()["items"]
    assert elements and {e["processDefinitionId"] for e in elements} == {"granted"}
    theirs_var = theirs.variables.get(name="note")
    theirs_element = theirs.elements.first()
    assert api.get(f"/v2/variables/{theirs_var.key}").status_code == 404
    assert api.get(f"/v2/variables/{mine.variables.get(name='note').key}").status_code == 200
    assert api.get(f"/v2/element-instances/{theirs_element.key}").status_code == 404
    assert api.get(f"/v2/element-instances/{mine.elements.first().key}").status_code == 200
    # Jobs: only the granted process's (user tasks here are no jobs; the search answers, limited, not refused).
    assert api.post("/v2/jobs/search", {}, format="json").status_code == 200
    assert all(j["processDefinitionId"] == "granted"
               for j in api.post("/v2/jobs/search", {}, format="json").json()["items"])


def test_inspector_read_grant_lets_a_member_in_limited_to_that_process(world):
    client = staff_pia(world, Role.MEMBER)
    assert client.get("/inspector/").status_code == 403  # no READ: the role is a member's
    world.grant(Right.READ)
    listed = client.get("/inspector/")
    assert listed.status_code == 200
    keys = {i.key for i in listed.context["page"].items}
    assert keys == set(world.mine) and not keys & set(world.theirs)
    assert [d[0] for d in listed.context["definitions"]] == ["granted"]
    # Asking for the other process by filter finds nothing.
    assert not client.get("/inspector/?process=other").context["page"].items
    assert client.get(f"/inspector/instances/{world.mine[0]}/").status_code == 200
    assert client.get(f"/inspector/instances/{world.mine[0]}/diagram.json").status_code == 200
    for path in (f"/inspector/instances/{world.theirs[0]}/", f"/inspector/instances/{world.theirs[0]}/diagram.json",
                 f"/inspector/instances/{world.theirs[0]}/live/"):
        assert client.get(path).status_code == 404, path
    # Pages not bound to the granted process stay closed (fail closed), with a way back to what is theirs.
    for path in ("/inspector/incidents/", "/inspector/definitions/", "/inspector/batches/", "/inspector/engine/"):
        refused = client.get(path)
        assert refused.status_code == 403 and "granted" in refused.content.decode(), path
    # READ is not OPERATE: the cancel is refused, nothing sent.
    client.post(f"/inspector/instances/{world.mine[0]}/cancel/", {"confirm": "yes"})
    assert client.post(f"/inspector/instances/{world.theirs[0]}/cancel/", {"confirm": "yes"}).status_code == 404
    assert commands("CANCEL_INSTANCE") == 0
