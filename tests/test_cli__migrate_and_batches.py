"""`manage.py flowsync instances migrate` and `flowsync batches …` (issue 13): the same actions
(engine/actions/migration.py, engine/actions/batches.py), rights and audit entries (via=cli) as the
Inspector and the API. In-process (`call_command`), like the other verbs after the one entry-point test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from engine.actions.batches import start_batch
from engine.models import BatchOperation, ElementInstance, ProcessDefinition, ProcessInstance
from engine.runtime.loop import drain
from flowsync.models import AuditEntry, Membership, Role
from tests.conftest import make_tenant
from tests.test_cli__flowsync import run

API_BPMN = Path(__file__).resolve().parent / "api" / "bpmn"

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(flush_redis):  # type: ignore[no-untyped-def]
    """migration v1 and v2 deployed in tenant acme, three v1 instances waiting in Task_Pay and Task_Review."""
    tenant = make_tenant("acme").tenant
    for name in ("migration-v1.bpmn", "migration-v2.bpmn"):
        assert run("deploy", "--tenant", "acme", str(API_BPMN / name)).returncode == 0
    keys = [json.loads(run("instances", "start", "migration", "--tenant", "acme", "--json",
                           "--definition-version", "1").stdout)["processInstanceKey"] for _ in range(3)]
    drain()
    v2 = ProcessDefinition.objects.get(tenant=tenant, bpmn_process_id="migration", version=2)
    return tenant, keys, v2


def active(key: str) -> set[str]:
    return set(ElementInstance.objects.filter(process_instance_id=int(key), state="ACTIVE")
               .exclude(element_type="PROCESS").values_list("element_id", flat=True))


def test_migrate_checks_dry_runs_then_migrates_one_and_many(acme):
    tenant, keys, v2 = acme
    assert active(keys[0]) == {"Task_Pay", "Task_Review"}
    # Task_Pay has no same-id element in v2: refused until mapped, nothing changed.
    unmapped = run("instances", "migrate", keys[0], "--tenant", "acme", "--target", str(v2.key), "--json")
    assert unmapped.returncode == 1 and "Task_Pay" in json.loads(unmapped.stderr)["detail"]
    bad_map = run("instances", "migrate", keys[0], "--tenant", "acme", "--target", str(v2.key), "--map", "Task_Pay")
    assert bad_map.returncode == 1 and "SOURCE=TARGET" in bad_map.stderr
    no_target = run("instances", "migrate", keys[0], "--tenant", "acme")
    assert no_target.returncode == 1 and "--target" in no_target.stderr
    # The dry run: what would happen per active element (Task_Review pre-filled: same id and kind).
    dry = run("instances", "migrate", keys[0], "--tenant", "acme", "--target", str(v2.key), "--map",
              "Task_Pay=Task_Charge", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert {(s["sourceElementId"], s["targetElementId"]) for s in json.loads(dry.stdout)} == {
        ("migration", "migration"), ("Task_Pay", "Task_Charge"), ("Task_Review", "Task_Review")}
    assert ProcessInstance.objects.get(key=int(keys[0])).definition_id != v2.key
    # One instance: migrated here and now.
    one = run("instances", "migrate", keys[0], "--tenant", "acme", "--target", str(v2.key), "--map",
              "Task_Pay=Task_Charge", "--json")
    assert one.returncode == 0, one.stderr
    drain()
    assert ProcessInstance.objects.get(key=int(keys[0])).definition_id == v2.key
    assert active(keys[0]) == {"Task_Charge", "Task_Review"}
    # Several: one migrate-instances batch; the one already on v2 is skipped, not migrated twice.
    many = json.loads(run("instances", "migrate", *keys, "--tenant", "acme", "--target", str(v2.key), "--map",
                          "Task_Pay=Task_Charge", "--json").stdout)
    drain()
    assert sorted(many["done"]) == sorted(keys[1:]) and list(many["skipped"]) == [keys[0]] and not many["failed"]
    assert all(ProcessInstance.objects.get(key=int(k)).definition_id == v2.key for k in keys)
    batch = BatchOperation.objects.get(pk=many["batch"])
    mapping = {m["sourceElementId"]: m["targetElementId"] for m in batch.params["mappingInstructions"]}
    assert batch.kind == "migrate-instances" and mapping["Task_Pay"] == "Task_Charge"
    assert mapping["Task_Review"] == "Task_Review" and "End_Pay" in mapping  # same id and kind: pre-filled
    migrations = AuditEntry.objects.filter(tenant=tenant, what="instance.migrate")
    assert migrations.count() == 3 and set(migrations.values_list("via", flat=True)) == {"cli"}


def test_migrate_needs_operate_and_one_source_version(acme):
    tenant, keys, v2 = acme
    mia = User.objects.create_user("mia")
    Membership.objects.create(user=mia, tenant=tenant, role=Role.MEMBER)
    refused = run("instances", "migrate", *keys, "--tenant", "acme", "--target", str(v2.key), "--as", "mia")
    assert refused.returncode == 1 and "403" in refused.stderr
    assert not BatchOperation.objects.exists()
    # A batch without the mapping it needs: each item fails with the reason, an instance already on the
    # target is skipped; nothing migrates.
    v2_key = json.loads(run("instances", "start", "migration", "--tenant", "acme", "--json").stdout)[
        "processInstanceKey"]
    unmapped = json.loads(run("instances", "migrate", keys[0], keys[1], v2_key, "--tenant", "acme", "--target",
                              str(v2.key), "--json").stdout)
    assert set(unmapped["failed"]) == set(keys[:2]) and "Task_Pay" in unmapped["failed"][keys[0]]
    assert list(unmapped["skipped"]) == [v2_key] and not unmapped["done"]
    assert not AuditEntry.objects.filter(what="instance.migrate").exists()
    missing = run("instances", "migrate", keys[0], "--tenant", "acme", "--target", "12345")
    assert missing.returncode == 1 and "404" in missing.stderr


def test_batches_list_get_and_steer(acme):
    tenant, keys, v2 = acme
    done = json.loads(run("instances", "cancel", *keys[:2], "--tenant", "acme", "--json").stdout)["batch"]
    # A batch another surface queued (its RQ job not run here): steer it from the command line.
    queued = start_batch(tenant, Role.OPERATOR, BatchOperation.Kind.CANCEL_INSTANCES, [int(keys[2])], "user:ann")
    listed = json.loads(run("batches", "list", "--tenant", "acme", "--json").stdout)
    assert [b["key"] for b in listed] == [str(queued.pk), str(done)]
    assert listed[1]["state"] == "DONE" and listed[1]["done"] == 2 and listed[0]["state"] == "QUEUED"
    assert [b["key"] for b in json.loads(run("batches", "list", "--tenant", "acme", "--state", "done",
                                             "--json").stdout)] == [str(done)]
    got = json.loads(run("batches", "get", str(done), "--tenant", "acme", "--json").stdout)
    assert got["kind"] == "cancel-instances" and got["items"] == 2 and got["failedItems"] == {}

    assert json.loads(run("batches", "suspend", str(queued.pk), "--tenant", "acme", "--json").stdout)[
        "state"] == "SUSPENDED"
    assert json.loads(run("batches", "resume", str(queued.pk), "--tenant", "acme", "--json").stdout)[
        "state"] == "QUEUED"
    assert json.loads(run("batches", "cancel", str(queued.pk), "--tenant", "acme", "--json").stdout)[
        "state"] == "CANCELED"
    # Wrong state, unknown batch, another tenant's batch, no right: problems, nothing changed.
    late = run("batches", "resume", str(done), "--tenant", "acme", "--json")
    assert late.returncode == 1 and json.loads(late.stderr)["status"] == 409
    assert "404" in run("batches", "get", "999999", "--tenant", "acme").stderr
    make_tenant("globex")
    assert "404" in run("batches", "cancel", str(queued.pk), "--tenant", "globex").stderr
    mia = User.objects.create_user("mia")
    Membership.objects.create(user=mia, tenant=tenant, role=Role.MEMBER)
    assert "403" in run("batches", "list", "--tenant", "acme", "--as", "mia").stderr  # no READ: not even the list
    refused = run("batches", "cancel", str(done), "--tenant", "acme", "--as", "mia")
    assert refused.returncode == 1 and "403" in refused.stderr
    assert list(AuditEntry.objects.filter(tenant=tenant, what__startswith="batch.").exclude(what="batch.create")
                .order_by("id").values_list("what", "via")) == [
        ("batch.suspended", "cli"), ("batch.resumed", "cli"), ("batch.cancelled", "cli")]
