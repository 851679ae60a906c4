"""The rights matrix: role × surface × operation (engine.rights is the one rule behind all three).

For every cell, the allowed call works and changes what it should; the refused one is refused
(403 problem+json on the API, 403 page in the Inspector, 404/message in the Tasklist as those
pages answer) and changes nothing. The expected matrix is written out here, not read from
engine.rights, so a change to the rule shows up as a failing cell.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from engine.actions.task_claims import claim_task
from engine.models import Command, Deployment, Incident, Job, Message, ProcessInstance, UserTask
from engine.runtime.loop import drain
from flowsync.models import ApiKey, Membership, Role
from tests.api.conftest import api_bpmn, complete_jobs
from tests.conftest import bpmn_file, make_tenant

pytestmark = pytest.mark.django_db

PASSWORD = "matrix-pass-123"
MEMBER, OPERATOR, INTEGRATOR, ADMIN = Role.MEMBER, Role.OPERATOR, Role.INTEGRATOR, Role.ADMIN
AUDITOR = Role.AUDITOR  # reads everything, changes nothing, works no tasks
EVERYONE = {MEMBER, OPERATOR, INTEGRATOR, ADMIN}  # every role that works tasks
ROLES = EVERYONE | {AUDITOR}
MANAGERS = {OPERATOR, INTEGRATOR, ADMIN}
READERS = MANAGERS | {AUDITOR}
BUILDERS = {INTEGRATOR, ADMIN}


@dataclass
class World:
    tenant: Any
    hello_key: int  # a hello-world instance waiting at its service task (job type "payment")
    task: UserTask  # an open review task offered to group "managers", unassigned
    held: UserTask  # an open review task held by "zed"


def basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@pytest.fixture
def world(db, settings) -> World:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not the subject
    creds = make_tenant("<default>")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=creds.header)
    for name, content in (("hello-service-task.bpmn", bpmn_file("hello-service-task.bpmn")),
                          ("order-flow.bpmn", api_bpmn("order-flow.bpmn"))):
        upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
        assert api.post("/v2/deployments", {"resources": [upload]}, format="multipart").status_code == 200
    hello = api.post("/v2/process-instances", {"processDefinitionId": "order-process"}, format="json").json()
    for _ in range(2):
        started = api.post("/v2/process-instances", {"processDefinitionId": "order-flow"}, format="json")
        assert started.status_code == 200
    drain()
    complete_jobs(api, "charge")
    # One more order whose charge job runs out of retries: an incident to resolve.
    assert api.post("/v2/process-instances", {"processDefinitionId": "order-flow"}, format="json").status_code == 200
    drain()
    [job] = api.post("/v2/jobs/activation", {"type": "charge", "timeout": 10_000, "maxJobsToActivate": 1,
                                             "requestTimeout": -1}, format="json").json()["jobs"]
    assert api.post(f"/v2/jobs/{job['jobKey']}/failure", {"retries": 0, "errorMessage": "card declined"},
                    format="json").status_code == 204
    drain()
    # Retries back first, as Camunda wants before a resolution (the Inspector does both at once).
    assert api.patch(f"/v2/jobs/{job['jobKey']}", {"changeset": {"retries": 1}}, format="json").status_code == 204
    managers = Group.objects.create(name="managers")
    for role in ROLES:
        user = User.objects.create_user(f"u-{role}", password=PASSWORD)
        user.groups.add(managers)
        Membership.objects.create(tenant=creds.tenant, user=user, role=role)
    task, held = UserTask.objects.filter(state="CREATED").order_by("key")[:2]
    claim_task([creds.tenant.pk], held.key, "zed", "test", timezone.now())
    held.refresh_from_db()
    return World(creds.tenant, int(hello["processInstanceKey"]), task, held)


@dataclass(frozen=True)
class Op:
    name: str
    allowed: set[str]
    call: Callable[[Any, World], Any]  # (client, world) -> response
    state: Callable[[World], Any]  # what a refused call must leave as it was
    refused_status: int = 403
    changes: bool = True  # an allowed call changes `state` (False: it may legitimately change nothing)


def commands() -> int:
    return Command.objects.count()


def payment_job(w: World) -> int:
    return Job.objects.get(process_instance_key=w.hello_key, type="payment").key


def incident() -> Incident:
    return Incident.objects.get(error_message="card declined")


def task_state(key: int) -> tuple[str, str]:
    row = UserTask.objects.get(key=key)
    return row.state, row.assignee


API_OPS = [
    Op("deploy", BUILDERS, lambda c, w: c.post("/v2/deployments", {"resources": [SimpleUploadedFile(
        "hello-service-task.bpmn", bpmn_file("hello-service-task.bpmn").replace(b"Hello", b"Hi"))]},
        format="multipart"), lambda w: Deployment.objects.count()),
    Op("start instance", MANAGERS, lambda c, w: c.post("/v2/process-instances", {
        "processDefinitionId": "order-process"}, format="json"), lambda w: ProcessInstance.objects.count()),
    Op("cancel instance", MANAGERS, lambda c, w: c.post(f"/v2/process-instances/{w.hello_key}/cancellation",
                                                        format="json"), lambda w: commands()),
    Op("set variables", MANAGERS, lambda c, w: c.put(f"/v2/element-instances/{w.hello_key}/variables", {
        "variables": {"amount": 1}}, format="json"), lambda w: commands()),
    Op("read instances", READERS, lambda c, w: c.post("/v2/process-instances/search", {}, format="json"),
       lambda w: None),
    Op("read variables", READERS, lambda c, w: c.post("/v2/variables/search", {}, format="json"),
       lambda w: None),
    Op("read definition XML", READERS, lambda c, w: c.get(
        f"/v2/process-definitions/{ProcessInstance.objects.get(key=w.hello_key).definition_id}/xml"),
       lambda w: None),
    Op("activate jobs", BUILDERS, lambda c, w: c.post("/v2/jobs/activation", {
        "type": "payment", "timeout": 10_000, "maxJobsToActivate": 5, "requestTimeout": -1}, format="json"),
       lambda w: sorted(Job.objects.values_list("key", "state"))),
    Op("publish message", MANAGERS, lambda c, w: c.post("/v2/messages/publication", {
        "name": "nobody-waits", "correlationKey": "k", "timeToLive": 60_000}, format="json"),
       lambda w: Message.objects.count()),
    Op("broadcast signal", MANAGERS, lambda c, w: c.post("/v2/signals/broadcast", {"signalName": "nobody"},
                                                          format="json"), lambda w: commands(), changes=False),
    Op("change job retries", MANAGERS, lambda c, w: c.patch(f"/v2/jobs/{payment_job(w)}", {
        "changeset": {"retries": 7}}, format="json"), lambda w: Job.objects.get(key=payment_job(w)).retries),
    Op("search jobs", READERS, lambda c, w: c.post("/v2/jobs/search", {}, format="json"), lambda w: None),
    Op("search incidents", READERS, lambda c, w: c.post("/v2/incidents/search", {}, format="json"),
       lambda w: None),
    Op("search definitions", READERS, lambda c, w: c.post("/v2/process-definitions/search", {}, format="json"),
       lambda w: None),
    Op("resolve incident", MANAGERS, lambda c, w: c.post(f"/v2/incidents/{incident().key}/resolution",
                                                          format="json"), lambda w: (incident().state, commands())),
    Op("reassign someone's task", MANAGERS, lambda c, w: c.post(f"/v2/user-tasks/{w.held.key}/assignment", {
        "assignee": "u-member"}, format="json"), lambda w: task_state(w.held.key)),
    Op("complete a task one does not hold", MANAGERS, lambda c, w: c.post(
        f"/v2/user-tasks/{w.held.key}/completion", {}, format="json"), lambda w: task_state(w.held.key)),
    Op("update a task's priority", MANAGERS, lambda c, w: c.patch(f"/v2/user-tasks/{w.held.key}", {
        "changeset": {"priority": 7}}, format="json"), lambda w: commands()),
    Op("unassign someone's task", MANAGERS, lambda c, w: c.delete(f"/v2/user-tasks/{w.held.key}/assignee"),
       lambda w: task_state(w.held.key)),
    Op("claim an offered task", EVERYONE, lambda c, w: c.post(f"/v2/user-tasks/{w.task.key}/assignment", {
        "assignee": c.username, "allowOverride": False}, format="json"), lambda w: task_state(w.task.key)),
]


def api_client(world: World, role: str, via: str) -> APIClient:
    client = APIClient()
    if via == "user":
        client.credentials(HTTP_AUTHORIZATION=basic(f"u-{role}", PASSWORD))
        client.username = f"u-{role}"  # type: ignore[attr-defined]
    else:
        key, secret = ApiKey.issue(world.tenant, f"key-{role}", role=role)
        if via == "oauth":
            token = Client().post("/oauth/token", {"grant_type": "client_credentials", "client_id": key.client_id,
                                                   "client_secret": secret}).json()["access_token"]
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        else:
            client.credentials(HTTP_AUTHORIZATION=basic(key.client_id, secret))
        client.username = key.client_id  # type: ignore[attr-defined]
    return client


# OAuth clients carry their API key's role: a few cells show it.
OAUTH_CELLS = ("deploy", "cancel instance", "read variables")
API_CELLS = [
    pytest.param(op, role, via, id=f"{op.name}-{role}-{via}")
    for op in API_OPS
    for role in sorted(ROLES)
    for via in ("user", "api-key", "oauth")
    if via != "oauth" or op.name in OAUTH_CELLS
]


@pytest.mark.parametrize(("op", "role", "via"), API_CELLS)
def test_api(world: World, op: Op, role: str, via: str) -> None:
    client = api_client(world, role, via)
    if op.name == "claim an offered task" and via != "user":
        # A client is no candidate of the task: only MANAGE_TASKS lets it assign (to itself here).
        allowed = MANAGERS
    else:
        allowed = op.allowed
    before = op.state(world)
    response = op.call(client, world)
    if role in allowed:
        assert response.status_code < 300, (op.name, role, via, response.content)
        if op.changes and before is not None:
            assert op.state(world) != before, (op.name, role, via)
    else:
        # A member client is no candidate of any task: it cannot even see them (404, as in the Tasklist).
        # (An auditor works no tasks at all: refused by the right, 403, before any task is looked up.)
        status, title = ((404, "NOT_FOUND") if via != "user" and "task" in op.name and role != AUDITOR
                         else (403, "FORBIDDEN"))
        assert response.status_code == status, (op.name, role, via, response.content)
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["title"] == title
        assert op.state(world) == before, (op.name, role, via)


def test_a_member_sees_only_their_own_tasks_through_the_api(world: World) -> None:
    member = api_client(world, MEMBER, "user")
    other = User.objects.create_user("outsider", password=PASSWORD)
    Membership.objects.create(tenant=world.tenant, user=other, role=MEMBER)
    keys = {int(t["userTaskKey"]) for t in member.post("/v2/user-tasks/search", {}, format="json").json()["items"]}
    assert keys == {world.task.key, world.held.key}  # offered to their group "managers"
    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=basic("outsider", PASSWORD))
    assert outsider.post("/v2/user-tasks/search", {}, format="json").json()["items"] == []
    assert outsider.get(f"/v2/user-tasks/{world.task.key}").status_code == 404
    operator = api_client(world, OPERATOR, "user")
    assert len(operator.post("/v2/user-tasks/search", {}, format="json").json()["items"]) == 2


def test_a_member_completes_a_task_they_hold_through_the_api(world: World) -> None:
    member = api_client(world, MEMBER, "user")
    assert member.post(f"/v2/user-tasks/{world.task.key}/assignment", {"assignee": "u-member",
                                                                       "allowOverride": False},
                       format="json").status_code == 204
    assert member.post(f"/v2/user-tasks/{world.task.key}/completion", {}, format="json").status_code == 204
    assert UserTask.objects.get(key=world.task.key).state == "COMPLETING"


# -- browser surfaces -------------------------------------------------------------------------------

def browser(role: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=f"u-{role}"))
    return client


TASKLIST_OPS = [
    Op("see every open task", MANAGERS, lambda c, w: c.get("/tasks/all/"), lambda w: None, refused_status=404),
    Op("claim an offered task", EVERYONE, lambda c, w: c.post(f"/tasks/{w.task.key}/claim/"),
       lambda w: task_state(w.task.key), refused_status=302),
    # In the Tasklist everyone completes only what they hold, whatever their role.
    Op("complete a task one does not hold", set(), lambda c, w: c.post(f"/tasks/{w.held.key}/complete/",
                                                                      {"comment": "x"}),
       lambda w: task_state(w.held.key), refused_status=302),
]

INSPECTOR_OPS = [
    Op("list instances", READERS, lambda c, w: c.get("/inspector/"), lambda w: None),
    Op("see an instance", READERS, lambda c, w: c.get(f"/inspector/instances/{w.hello_key}/"), lambda w: None),
    Op("cancel an instance", MANAGERS, lambda c, w: c.post(f"/inspector/instances/{w.hello_key}/cancel/",
                                                           {"confirm": "yes"}), lambda w: commands()),
    Op("retry an incident", MANAGERS, lambda c, w: c.post(f"/inspector/incidents/{incident().key}/retry/",
                                                           {"retries": "1"}), lambda w: (incident().state, commands())),
    Op("set a variable", MANAGERS, lambda c, w: c.post(f"/inspector/instances/{w.hello_key}/variables/",
                                                       {"name": "amount", "value": "2"}), lambda w: commands()),
]


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("op", [("tasklist", o) for o in TASKLIST_OPS] + [("inspector", o) for o in INSPECTOR_OPS],
                         ids=lambda so: f"{so[0]}-{so[1].name}")
def test_browser(world: World, op: tuple[str, Op], role: str) -> None:
    _surface, cell = op
    before = cell.state(world)
    response = cell.call(browser(role), world)
    if role in cell.allowed:
        assert response.status_code in (200, 302), (cell.name, role, response.status_code)
        if before is not None:
            assert cell.state(world) != before, (cell.name, role)
    else:
        # An auditor is let into the Inspector (READ): a repair there is refused on the page itself.
        refused = cell.refused_status
        if role == AUDITOR and _surface == "inspector":  # the page, the redirect or the form says no
            refused = {"cancel an instance": 200, "retry an incident": 302, "set a variable": 400}[cell.name]
        elif role == AUDITOR:  # works no tasks: none is offered to them, so none is found
            refused = 404
        assert response.status_code == refused, (cell.name, role, response.status_code)
        assert cell.state(world) == before, (cell.name, role)


def test_the_see_all_grant_means_the_same_on_the_api_as_in_the_tasklist(world: World) -> None:
    """A member given Django's engine.view_usertask sees and reassigns every task in both places."""
    member = User.objects.get(username=f"u-{MEMBER}")
    member.user_permissions.add(Permission.objects.get(content_type__app_label="engine", codename="view_usertask"))
    assert browser(MEMBER).get("/tasks/all/").status_code == 200
    api = api_client(world, MEMBER, "user")
    assert api.post(f"/v2/user-tasks/{world.held.key}/assignment", {"assignee": "u-member"},
                    format="json").status_code == 204
    assert UserTask.objects.get(key=world.held.key).assignee == "u-member"
