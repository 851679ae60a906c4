"""Inspector batch operations and migration pages over HTTP (Django's test client, real PostgreSQL and
Redis, the RQ worker code): the list's selection (ticked rows or "all matching this filter") → a preview
with the count → confirmation → a batch page with progress, per-item outcome and its controls; the
migration form with its dry run and refusals as form errors; tenancy and rights."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client
from rq import SimpleWorker

from engine.actions.instances import start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import BatchOperation, ElementInstance, Incident, Job, ProcessDefinition, ProcessInstance
from engine.runtime.loop import drain
from flowsync import redis
from flowsync.models import AuditEntry, Membership
from tests.inspector.conftest import Flow, make_user

API_BPMN = Path(__file__).resolve().parents[1] / "api" / "bpmn"

pytestmark = pytest.mark.django_db


def run_queued_batches() -> None:
    SimpleWorker([redis.queue("connectors")], connection=redis.connection("connectors")).work(burst=True)


@pytest.fixture
def versions(tenant, flush_redis):  # type: ignore[no-untyped-def]
    """migration v1 and v2 deployed; returns (flow, v1, v2)."""
    flow = Flow(tenant)
    for name in ("migration-v1.bpmn", "migration-v2.bpmn"):
        deploy(tenant, [Resource(name, (API_BPMN / name).read_bytes())], flow.now())
    defs = ProcessDefinition.objects.filter(tenant=tenant, bpmn_process_id="migration").order_by("version")
    return flow, defs[0], defs[1]


def start_v1(flow: Flow, v1: ProcessDefinition, n: int) -> list[int]:
    keys = [start_instance(flow.tenant, v1, {"i": i}, "starter", flow.now(), business_key=f"MIG-{i}").key
            for i in range(n)]
    drain()
    return keys


def test_cancel_all_matching_the_filter_with_preview_and_confirmation(op_client: Client, versions,
                                                                       django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    flow, v1, _ = versions
    keys = start_v1(flow, v1, 12)
    query = urlencode({"business_key": "MIG-1"})  # MIG-1, MIG-10, MIG-11 (a prefix search)
    listed = op_client.get(f"/inspector/?{query}").content.decode()
    assert 'id="batch-form"' in listed and f'value="{keys[1]}"' in listed
    preview = op_client.get("/inspector/batches/new/", {"kind": "cancel-instances", "scope": "filter", "q": query})
    assert preview.status_code == 200
    assert '<span id="batch-count">3</span>' in preview.content.decode()
    # Without the confirmation: a form error, nothing stored.
    body = {"kind": "cancel-instances", "scope": "filter", "q": query}
    refused = op_client.post("/inspector/batches/new/", body)
    assert refused.status_code == 400 and "Tick the box to confirm" in refused.content.decode()
    assert not BatchOperation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = op_client.post("/inspector/batches/new/", {**body, "confirm": "yes"})
    batch = BatchOperation.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/inspector/batches/{batch.pk}/"
    assert batch.selection == {"scope": "filter", "filter": query} and batch.via == "inspector"
    page = op_client.get(f"/inspector/batches/{batch.pk}/").content.decode()
    assert 'id="batch-state">QUEUED' in page and "hx-trigger" in page  # live while it has work
    run_queued_batches()
    drain()
    page = op_client.get(f"/inspector/batches/{batch.pk}/").content.decode()
    assert 'id="batch-state">DONE' in page and '<span id="batch-handled">3</span>' in page
    assert 'hx-trigger="every' not in page  # finished: the page stops polling
    assert ProcessInstance.objects.filter(state="TERMINATED").count() == 3
    assert AuditEntry.objects.filter(what="instance.cancel", via="inspector", who="user:olga").count() == 3
    assert "batch" in op_client.get("/inspector/batches/").content.decode()


def test_ticked_rows_only_active_ones_count(op_client: Client, versions):  # type: ignore[no-untyped-def]
    flow, v1, _ = versions
    keys = start_v1(flow, v1, 3)
    op_client.post("/inspector/batches/new/", {})  # nothing chosen: back to the list with a message
    resp = op_client.get("/inspector/batches/new/", {"kind": "set-variables", "instance": [str(k) for k in keys]
                                                     + ["999", "x"]})
    assert '<span id="batch-count">3</span>' in resp.content.decode()
    bad = op_client.post("/inspector/batches/new/", {"kind": "set-variables", "instance": [str(keys[0])],
                                                     "variables": "[1]", "confirm": "yes"})
    assert bad.status_code == 400 and "JSON object" in bad.content.decode()
    nothing = op_client.get("/inspector/batches/new/", {"kind": "cancel-instances"})
    assert nothing.status_code == 302


def test_batch_migration_form_shows_refusals_then_runs(op_client: Client, versions,
                                                      django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    flow, v1, v2 = versions
    keys = start_v1(flow, v1, 4)
    query = urlencode({"process": "migration", "version": 1})
    # The Definitions page links a version's running instances to this form.
    definitions = op_client.get("/inspector/definitions/").content.decode()
    assert 'data-migrate-version="1" href="/inspector/batches/new/?kind=migrate-instances&amp;scope=filter&amp;' \
           'q=process%3Dmigration%26version%3D1"' in definitions
    base = {"kind": "migrate-instances", "scope": "filter", "q": query}
    # Choosing the target shows the mapping, pre-filled where ids match (Task_Review), Task_Pay left open.
    shown = op_client.get("/inspector/batches/new/", {**base, "target": v2.key, "show": "1"}).content.decode()
    assert 'name="map-Task_Pay"' in shown and '<option value="Task_Charge"' in shown
    assert '<option value="Task_Review" selected>' in shown
    assert '<option value="Task_Charge" selected>' not in shown
    refused = op_client.post("/inspector/batches/new/", {**base, "target": v2.key, "mapped": "1",
                                                         "map-Task_Review": "Task_Review", "confirm": "yes"})
    assert refused.status_code == 400
    assert "no mapping instruction for active element &#x27;Task_Pay&#x27;" in refused.content.decode()
    assert not BatchOperation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/batches/new/", {**base, "target": v2.key, "mapped": "1", "confirm": "yes",
                                                   "map-Task_Review": "Task_Review", "map-Task_Pay": "Task_Charge"})
    batch = BatchOperation.objects.get()
    assert batch.params["targetProcessDefinitionKey"] == str(v2.key)
    run_queued_batches()
    drain()
    assert set(ProcessInstance.objects.filter(key__in=keys).values_list("definition_id", flat=True)) == {v2.key}
    # Mixed versions cannot migrate together.
    start_v1(flow, v1, 1)
    mixed = op_client.get("/inspector/batches/new/", {"kind": "migrate-instances", "scope": "filter",
                                                      "q": urlencode({"process": "migration"})})
    assert mixed.status_code == 302


def test_steer_a_batch_and_rerun_failed(op_client: Client, versions, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    flow, v1, _ = versions
    keys = start_v1(flow, v1, 2)
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/batches/new/", {"kind": "modify-instances", "instance": [str(k) for k in keys],
                                                   "source": "Task_Pay", "target_element": "Nope", "confirm": "yes"})
    batch = BatchOperation.objects.get()
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "DONE" and len(batch.failed) == 2
    page = op_client.get(f"/inspector/batches/{batch.pk}/").content.decode()
    assert "does not exist" in page and "Run the failed items again" in page
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post(f"/inspector/batches/{batch.pk}/rerun/")
    batch.refresh_from_db()
    assert batch.state == "QUEUED" and batch.failed == {}
    op_client.post(f"/inspector/batches/{batch.pk}/suspend/")
    batch.refresh_from_db()
    assert batch.state == "SUSPENDED"
    op_client.post(f"/inspector/batches/{batch.pk}/cancel/")
    batch.refresh_from_db()
    assert batch.state == "CANCELED"
    resp = op_client.post(f"/inspector/batches/{batch.pk}/resume/", follow=True)
    assert "cannot be resumed" in resp.content.decode()
    assert op_client.post(f"/inspector/batches/{batch.pk}/explode/").status_code == 404


def test_instance_migration_form_dry_run_refusal_and_migrate(op_client: Client, versions):  # type: ignore[no-untyped-def]
    flow, v1, v2 = versions
    (key,) = start_v1(flow, v1, 1)
    assert 'id="migrate-link"' in op_client.get(f"/inspector/instances/{key}/").content.decode()
    form = op_client.get(f"/inspector/instances/{key}/migrate/", {"target": v2.key, "show": "1"}).content.decode()
    assert "v2" in form and 'name="map-Task_Pay"' in form
    refused = op_client.post(f"/inspector/instances/{key}/migrate/", {"target": v2.key, "mapped": "1",
                                                                     "map-Task_Pay": "Task_Review",
                                                                     "action": "check"})
    assert refused.status_code == 400 and "element type cannot be changed" in refused.content.decode()
    good = {"target": v2.key, "mapped": "1", "map-Task_Pay": "Task_Charge", "map-Task_Review": "Task_Review"}
    plan = op_client.post(f"/inspector/instances/{key}/migrate/", {**good, "action": "check"}).content.decode()
    assert 'id="migrate-plan"' in plan and "Task_Charge" in plan
    assert ProcessInstance.objects.get(key=key).definition_id == v1.key  # a dry run changes nothing
    done = op_client.post(f"/inspector/instances/{key}/migrate/", {**good, "action": "migrate"})
    assert done.status_code == 302
    drain()
    assert ProcessInstance.objects.get(key=key).definition_id == v2.key
    assert ElementInstance.objects.filter(process_instance_id=key, element_id="Task_Charge", state="ACTIVE").exists()
    assert AuditEntry.objects.get(what="instance.migrate").via == "inspector"


def test_tenancy_and_rights(op_client: Client, versions, other_tenant, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    flow, v1, v2 = versions
    keys = start_v1(flow, v1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/batches/new/", {"kind": "cancel-instances", "instance": [str(keys[0])],
                                                   "confirm": "yes"})
    batch = BatchOperation.objects.get()
    stranger = Client()
    stranger.force_login(make_user("otto", {other_tenant: Membership.Role.OPERATOR}))
    assert stranger.get(f"/inspector/batches/{batch.pk}/").status_code == 404
    assert stranger.post(f"/inspector/batches/{batch.pk}/cancel/").status_code == 404
    assert stranger.get(f"/inspector/instances/{keys[0]}/migrate/").status_code == 404
    # Their list selection cannot reach our instances: the ticked key is not theirs.
    resp = stranger.get("/inspector/batches/new/", {"kind": "cancel-instances", "instance": [str(keys[0])]})
    assert '<span id="batch-count">0</span>' in resp.content.decode()
    # A member (no READ, no OPERATE) gets neither the pages nor a batch.
    member = Client()
    member.force_login(make_user("mia", {flow.tenant: Membership.Role.MEMBER}))
    assert member.get(f"/inspector/batches/{batch.pk}/").status_code == 403
    resp = member.post("/inspector/batches/new/", {"kind": "cancel-instances", "instance": [str(keys[0])],
                                                   "confirm": "yes"})
    assert resp.status_code == 403
    assert BatchOperation.objects.count() == 1


def test_retry_and_resolve_incidents_of_the_selected_instances(op_client: Client, flow: Flow, flush_redis,
                                                              django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    keys = [flow.start(f"INC-{i}") for i in range(3)]
    incidents = [flow.fail_to_incident(k) for k in keys[:2]]
    picked = {"instance": [str(k) for k in keys]}
    preview = op_client.get("/inspector/batches/new/", {"kind": "retry-jobs", **picked}).content.decode()
    assert '<strong id="batch-incidents">2</strong>' in preview
    bad = op_client.post("/inspector/batches/new/", {"kind": "retry-jobs", **picked, "retries": "0", "confirm": "yes"})
    assert bad.status_code == 400 and "Retries" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        op_client.post("/inspector/batches/new/", {"kind": "retry-jobs", **picked, "retries": "2", "confirm": "yes"})
    batch = BatchOperation.objects.get()
    assert sorted(batch.keys) == sorted(str(i.job_key) for i in incidents)  # the items are the failed jobs
    run_queued_batches()
    drain()
    batch.refresh_from_db()
    assert batch.state == "DONE" and len(batch.done) == 2, (batch.failed, batch.skipped)
    assert not Incident.objects.filter(state="ACTIVE").exists()
    assert set(Job.objects.filter(key__in=[i.job_key for i in incidents]).values_list("retries", flat=True)) == {2}
