"""`manage.py flowsync …` (issue 12) run as a subprocess against the test database: the same actions,
rights and audit entries (via=cli) as the other surfaces, JSON for scripts, tables for people, and a
non-zero exit with the problem's detail on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from engine.models import Command, ProcessInstance
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, Role
from tests import conftest
from tests.conftest import BPMN_DIR, ROOT, make_tenant

# The subprocess must see what this test wrote: real commits, not a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": conftest.test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "FLOWSYNC_ENGINE_INLINE": "0", "DJANGO_SETTINGS_MODULE": "flowsync.settings", "FLOWSYNC_DEBUG": "1"}
    return subprocess.run([sys.executable, "manage.py", "flowsync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_deploy_start_list_cancel_and_audit(flush_redis):
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
    invalid = cli("instances", "start", "order-process", "--tenant", "acme", "--variables", "{nope")
    assert invalid.returncode == 1 and "not valid JSON" in invalid.stderr
    drain()

    table = cli("instances", "list", "--tenant", "acme")
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("KEY")
    assert key in table.stdout and "B-7" in table.stdout
    assert json.loads(cli("instances", "get", key, "--tenant", "acme", "--json").stdout)["state"] == "ACTIVE"

    missing = cli("instances", "cancel", "123", "--tenant", "acme", "--json")
    assert missing.returncode == 1 and json.loads(missing.stderr)["title"] == "NOT_FOUND"
    assert cli("instances", "cancel", key, "--tenant", "acme").returncode == 0
    drain()
    assert ProcessInstance.objects.get(key=int(key)).state == "TERMINATED"

    entries = AuditEntry.objects.filter(tenant=tenant).order_by("id")
    assert [e.what for e in entries] == ["deploy", "instance.start", "instance.cancel"]
    assert {e.via for e in entries} == {"cli"} and all(e.who.startswith("cli:") for e in entries)
    listed = json.loads(cli("audit", "list", "--tenant", "acme", "--json", "--instance", key).stdout)
    assert [e["what"] for e in listed] == ["instance.cancel", "instance.start"]


def test_rights_of_the_user_named_by_as(flush_redis):
    tenant = make_tenant("acme").tenant
    assert cli("deploy", "--tenant", "acme", str(BPMN_DIR / "hello-service-task.bpmn")).returncode == 0
    key = json.loads(cli("instances", "start", "order-process", "--tenant", "acme", "--json").stdout)[
        "processInstanceKey"]
    drain()
    mia = User.objects.create_user("mia")
    Membership.objects.create(user=mia, tenant=tenant, role=Role.MEMBER)
    refused = cli("instances", "cancel", key, "--tenant", "acme", "--as", "mia")
    assert refused.returncode == 1 and "403" in refused.stderr and "may not" in refused.stderr
    assert not Command.objects.filter(kind="CANCEL_INSTANCE").exists()
    Membership.objects.filter(user=mia).update(role=Role.OPERATOR)
    assert cli("instances", "cancel", key, "--tenant", "acme", "--as", "mia").returncode == 0
    entry = AuditEntry.objects.get(what="instance.cancel")
    assert (entry.who, entry.user_id, entry.via) == ("user:mia", mia.pk, "cli")
    # Operators manage no keys and suspend no tenants.
    assert cli("api-keys", "list", "--tenant", "acme", "--as", "mia").returncode == 1
    assert cli("tenants", "suspend", "--tenant", "acme", "--as", "mia").returncode == 1


def test_keys_tenants_and_batches(flush_redis):
    make_tenant("acme")
    created = json.loads(cli("api-keys", "create", "--tenant", "acme", "--name", "ci", "--role", "operator",
                             "--json").stdout)
    assert created["clientSecret"] and created["role"] == "operator"
    rotated = json.loads(cli("api-keys", "rotate", created["clientId"], "--tenant", "acme", "--json").stdout)
    assert rotated["clientSecret"] != created["clientSecret"]
    assert json.loads(cli("api-keys", "revoke", created["clientId"], "--tenant", "acme", "--json").stdout)["revoked"]
    assert "ci" in cli("api-keys", "list", "--tenant", "acme").stdout
    assert json.loads(cli("tenants", "suspend", "--tenant", "acme", "--json").stdout)["suspended"] is True
    assert json.loads(cli("tenants", "resume", "--tenant", "acme", "--json").stdout)["suspended"] is False

    assert cli("deploy", "--tenant", "acme", str(BPMN_DIR / "hello-service-task.bpmn")).returncode == 0
    keys = [json.loads(cli("instances", "start", "order-process", "--tenant", "acme", "--json").stdout)[
        "processInstanceKey"] for _ in range(3)]
    drain()
    first = json.loads(cli("instances", "cancel", *keys, "--tenant", "acme", "--json").stdout)
    assert sorted(first["done"]) == sorted(keys)
    again = json.loads(cli("instances", "cancel", *keys, "--tenant", "acme", "--json").stdout)
    assert again["done"] == [] and set(again["skipped"].values()) == {"cancellation already requested"}
    whats = set(AuditEntry.objects.values_list("what", flat=True))
    assert {"api-key.create", "api-key.rotate", "api-key.revoke", "tenant.suspend", "tenant.resume"} <= whats
    unknown = cli("incidents", "frobnicate", "--tenant", "acme")
    assert unknown.returncode == 1 and "list, resolve" in unknown.stderr


def test_deploy_dmn_beside_bpmn(flush_redis):
    make_tenant("acme")
    files = ROOT / "tests" / "api" / "bpmn"
    deployed = cli("deploy", "--tenant", "acme", "--json", str(files / "insurance-application.bpmn"),
                   str(files / "risk-rating.dmn"))
    assert deployed.returncode == 0, deployed.stderr
    process, decision = json.loads(deployed.stdout)
    assert process["processDefinitionId"] == "InsuranceApplication"
    assert (decision["decisionDefinitionId"], decision["version"], decision["resource"]) == (
        "risk", 1, "risk-rating.dmn")
    broken = files / "risk-rating.dmn"
    bad = cli("deploy", "--tenant", "acme", "--json", str(ROOT / "README.md"), str(broken))
    assert bad.returncode == 1 and json.loads(bad.stderr)["status"] == 400
