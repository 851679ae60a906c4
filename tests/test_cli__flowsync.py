"""`manage.py flowsync …` (issue 12): the same actions, rights and audit entries (via=cli) as the other
surfaces, JSON for scripts, tables for people, and a non-zero exit with the problem's detail on errors.

One test runs the real entry point as a subprocess against the test database; the others call the
command in-process (`call_command`, the same parser and code) to keep the suite fast."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from engine.models import Command, ProcessInstance, UserTask
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, Role, Tenant
from tests import conftest
from tests.conftest import BPMN_DIR, ROOT, make_tenant


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": conftest.test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "FLOWSYNC_ENGINE_INLINE": "0", "DJANGO_SETTINGS_MODULE": "flowsync.settings", "FLOWSYNC_DEBUG": "1"}
    return subprocess.run([sys.executable, "manage.py", "flowsync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


# The subprocess must see what this test wrote: real commits, not a test transaction.
@pytest.mark.django_db(transaction=True)
def test_entry_point_deploys_starts_lists_and_fails_with_a_problem(flush_redis):
    """Few subprocesses (each is a Django start-up); the verbs themselves are tested in-process below."""
    tenant = make_tenant("acme").tenant
    bad = cli("deploy", "--tenant", "acme", "--json", str(ROOT / "README.md"))
    assert bad.returncode == 1 and json.loads(bad.stderr)["status"] == 400
    deployed = cli("deploy", "--tenant", "acme", "--json", str(BPMN_DIR / "hello-service-task.bpmn"))
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)[0]["processDefinitionId"] == "order-process"
    started = cli("instances", "start", "order-process", "--tenant", "acme", "--json", "--variables", '{"a": 1}',
                  "--business-id", "B-7")
    assert started.returncode == 0, started.stderr
    key = json.loads(started.stdout)["processInstanceKey"]
    assert json.loads(started.stdout)["inspector"] == f"/inspector/instances/{key}/"
    entries = AuditEntry.objects.filter(tenant=tenant).order_by("id")
    assert [e.what for e in entries] == ["deploy", "instance.start"]
    assert {e.via for e in entries} == {"cli"} and all(e.who.startswith("cli:") for e in entries)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str) -> Run:
    """The command in-process: same parser, same code, exit codes from SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("flowsync", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return Run(int(exc.code or 0), out.getvalue(), err.getvalue())
    return Run(0, out.getvalue(), err.getvalue())


@pytest.mark.django_db
def test_start_list_cancel_and_audit(flush_redis):
    tenant = make_tenant("acme").tenant
    assert run("deploy", "--tenant", "acme", str(BPMN_DIR / "hello-service-task.bpmn")).returncode == 0
    invalid = run("instances", "start", "order-process", "--tenant", "acme", "--variables", "{nope")
    assert invalid.returncode == 1 and "not valid JSON" in invalid.stderr
    key = json.loads(run("instances", "start", "order-process", "--tenant", "acme", "--json", "--business-id",
                         "B-7").stdout)["processInstanceKey"]
    drain()
    table = run("instances", "list", "--tenant", "acme")
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("KEY")
    assert key in table.stdout and "B-7" in table.stdout
    assert json.loads(run("instances", "get", key, "--tenant", "acme", "--json").stdout)["state"] == "ACTIVE"
    missing = run("instances", "cancel", "123", "--tenant", "acme", "--json")
    assert missing.returncode == 1 and json.loads(missing.stderr)["title"] == "NOT_FOUND"
    assert run("instances", "cancel", key, "--tenant", "acme").returncode == 0
    drain()
    assert ProcessInstance.objects.get(key=int(key)).state == "TERMINATED"
    entries = AuditEntry.objects.filter(tenant=tenant).order_by("id")
    assert [e.what for e in entries] == ["deploy", "instance.start", "instance.cancel"]
    assert {e.via for e in entries} == {"cli"} and all(e.who.startswith("cli:") for e in entries)
    listed = json.loads(run("audit", "list", "--tenant", "acme", "--json", "--instance", key).stdout)
    assert [e["what"] for e in listed] == ["instance.cancel", "instance.start"]


@pytest.mark.django_db
def test_rights_of_the_user_named_by_as(flush_redis):
    tenant = make_tenant("acme").tenant
    assert run("deploy", "--tenant", "acme", str(BPMN_DIR / "hello-service-task.bpmn")).returncode == 0
    key = json.loads(run("instances", "start", "order-process", "--tenant", "acme", "--json").stdout)[
        "processInstanceKey"]
    drain()
    mia = User.objects.create_user("mia")
    Membership.objects.create(user=mia, tenant=tenant, role=Role.MEMBER)
    refused = run("instances", "cancel", key, "--tenant", "acme", "--as", "mia")
    assert refused.returncode == 1 and "403" in refused.stderr and "may not" in refused.stderr
    assert not Command.objects.filter(kind="CANCEL_INSTANCE").exists()
    Membership.objects.filter(user=mia).update(role=Role.OPERATOR)
    assert run("instances", "cancel", key, "--tenant", "acme", "--as", "mia").returncode == 0
    assert run("tenants", "suspend", "--tenant", "acme", "--as", "mia").returncode == 1


@pytest.mark.django_db
def test_keys_tenants_and_batches(flush_redis):
    make_tenant("acme")
    created = json.loads(run("api-keys", "create", "--tenant", "acme", "--name", "ci", "--role", "operator",
                             "--json").stdout)
    assert created["clientSecret"] and created["role"] == "operator"
    rotated = json.loads(run("api-keys", "rotate", created["clientId"], "--tenant", "acme", "--json").stdout)
    assert rotated["clientSecret"] != created["clientSecret"]
    assert json.loads(run("api-keys", "revoke", created["clientId"], "--tenant", "acme", "--json").stdout)["revoked"]
    assert "ci" in run("api-keys", "list", "--tenant", "acme").stdout
    assert json.loads(run("tenants", "suspend", "--tenant", "acme", "--json").stdout)["suspended"] is True
    assert json.loads(run("tenants", "resume", "--tenant", "acme", "--json").stdout)["suspended"] is False

    assert run("deploy", "--tenant", "acme", str(BPMN_DIR / "hello-service-task.bpmn")).returncode == 0
    keys = [json.loads(run("instances", "start", "order-process", "--tenant", "acme", "--json").stdout)[
        "processInstanceKey"] for _ in range(3)]
    drain()
    first = json.loads(run("instances", "cancel", *keys, "--tenant", "acme", "--json").stdout)
    assert sorted(first["done"]) == sorted(keys)
    again = json.loads(run("instances", "cancel", *keys, "--tenant", "acme", "--json").stdout)
    assert again["done"] == [] and set(again["skipped"].values()) == {"cancellation already requested"}
    whats = set(AuditEntry.objects.values_list("what", flat=True))
    assert {"api-key.create", "api-key.rotate", "api-key.revoke", "tenant.suspend", "tenant.resume"} <= whats
    unknown = run("incidents", "frobnicate", "--tenant", "acme")
    assert unknown.returncode == 1 and "list, resolve" in unknown.stderr


@pytest.mark.django_db
def test_tenants_create_instance_variables_and_tasks(flush_redis):
    created = run("tenants", "create", "--tenant", "umbrella", "--name", "Umbrella Corp", "--json")
    assert created.returncode == 0 and json.loads(created.stdout) == {"tenant": "umbrella", "name": "Umbrella Corp"}
    assert Tenant.objects.get(tenant_id="umbrella").name == "Umbrella Corp"
    entry = AuditEntry.objects.get(what="tenant.create")
    assert entry.via == "cli" and entry.target_key == "umbrella"
    again = run("tenants", "create", "--tenant", "umbrella", "--json")
    assert again.returncode == 1 and json.loads(again.stderr)["status"] == 409
    assert run("tenants", "create", "--tenant", "no spaces allowed").returncode == 1
    mia = User.objects.create_user("mia")
    Membership.objects.create(user=mia, tenant=Tenant.objects.get(tenant_id="umbrella"), role=Role.ADMIN)
    assert "only platform admins" in run("tenants", "create", "--tenant", "other", "--as", "mia").stderr

    tenant = make_tenant("acme").tenant
    upload = tmp_bpmn(USER_TASK)
    assert run("deploy", "--tenant", "acme", str(upload)).returncode == 0
    key = json.loads(run("instances", "start", "review", "--tenant", "acme", "--json", "--variables",
                         '{"amount": 12}').stdout)["processInstanceKey"]
    drain()
    got = json.loads(run("instances", "variables", key, "--tenant", "acme", "--json").stdout)
    assert got == {"processInstanceKey": key, "variables": {"amount": 12}}
    bad = run("instances", "variables", key, "--tenant", "acme", "--variables", "[1]")
    assert bad.returncode == 1 and "JSON object" in bad.stderr
    assert json.loads(run("instances", "variables", key, "--tenant", "acme", "--json", "--variables",
                          '{"amount": 13}').stdout)["set"] == ["amount"]
    drain()
    assert json.loads(run("instances", "variables", key, "--tenant", "acme", "--json").stdout)["variables"] == {
        "amount": 13}

    # Tasks: a member sees tasks offered to her groups, claims for herself, completes what she holds.
    ann = User.objects.create_user("ann")
    Membership.objects.create(user=ann, tenant=tenant, role=Role.MEMBER)
    assert json.loads(run("tasks", "list", "--tenant", "acme", "--json", "--as", "ann").stdout) == []
    ann.groups.add(Group.objects.create(name="clerks"))
    [task] = json.loads(run("tasks", "list", "--tenant", "acme", "--json", "--as", "ann").stdout)
    assert task["processDefinitionId"] == "review" and task["assignee"] == ""
    refused = run("tasks", "assign", task["key"], "--assignee", "bob", "--tenant", "acme", "--as", "ann")
    assert refused.returncode == 1 and "may only claim" in refused.stderr
    assert run("tasks", "complete", task["key"], "--tenant", "acme", "--as", "ann").returncode == 1  # not hers
    assert run("tasks", "claim", task["key"], "--tenant", "acme", "--as", "ann").returncode == 0
    assert UserTask.objects.get(key=int(task["key"])).assignee == "ann"
    # The platform (no --as) may hand it to anyone.
    assert run("tasks", "assign", task["key"], "--assignee", "bob", "--tenant", "acme").returncode == 0
    assert UserTask.objects.get(key=int(task["key"])).assignee == "bob"
    assert run("tasks", "assign", task["key"], "--assignee", "ann", "--tenant", "acme").returncode == 0
    done = run("tasks", "complete", task["key"], "--tenant", "acme", "--as", "ann", "--variables", '{"ok": true}')
    assert done.returncode == 0, done.stderr
    drain()
    assert UserTask.objects.get(key=int(task["key"])).state == "COMPLETED"
    assert {"user-task.assign", "user-task.complete", "variables.set"} <= set(
        AuditEntry.objects.filter(tenant=tenant, via="cli").values_list("what", flat=True))


USER_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d-review" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Check">
      <bpmn:extensionElements><zeebe:userTask/>
        <zeebe:assignmentDefinition candidateGroups="clerks"/></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def tmp_bpmn(content: bytes) -> Path:
    path = Path(tempfile.mkdtemp()) / "review.bpmn"
    path.write_bytes(content)
    return path


@pytest.mark.django_db
def test_deploy_dmn_beside_bpmn(flush_redis):
    make_tenant("acme")
    files = ROOT / "tests" / "api" / "bpmn"
    deployed = run("deploy", "--tenant", "acme", "--json", str(files / "insurance-application.bpmn"),
                   str(files / "risk-rating.dmn"))
    assert deployed.returncode == 0, deployed.stderr
    process, decision = json.loads(deployed.stdout)
    assert process["processDefinitionId"] == "InsuranceApplication"
    assert (decision["decisionDefinitionId"], decision["version"], decision["resource"]) == (
        "risk", 1, "risk-rating.dmn")
    broken = files / "risk-rating.dmn"
    bad = run("deploy", "--tenant", "acme", "--json", str(ROOT / "README.md"), str(broken))
    assert bad.returncode == 1 and json.loads(bad.stderr)["status"] == 400
