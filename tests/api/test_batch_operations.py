"""Batch operations in Camunda 8's shapes: created over a process-instance filter
(`/v2/process-instances/{cancellation,incident-resolution,migration,modification}`), run by the real RQ
worker code on Redis, read, searched, suspended, resumed and cancelled under `/v2/batch-operations`,
per-item outcomes under `/v2/batch-operation-items/search`; and the official client driving them against a
live server + engine worker."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    BatchOperationItemSearchQuery,
    BatchOperationSearchQuery,
    CamundaClient,
    MigrateProcessInstanceMappingInstruction,
    ProcessCreationById,
    ProcessInstanceCancellationBatchOperationRequest,
    ProcessInstanceCancellationBatchOperationRequestFilter,
    ProcessInstanceMigrationBatchOperationPlan,
    ProcessInstanceMigrationBatchOperationRequest,
)
from django.utils import timezone
from rest_framework.test import APIClient
from rq import SimpleWorker

from engine.actions import batches
from engine.actions.instances import cancel_instance
from engine.models import BatchOperation, Command, ElementInstance, Incident, ProcessInstance
from engine.runtime.loop import drain
from flowsync import redis
from flowsync.models import ApiKey, AuditEntry
from tests.api.conftest import assert_problem, official_client_config, start
from tests.conftest import Credentials, deploy_file, wait_for

BPMN = Path(__file__).resolve().parent / "bpmn"
MAPPING = [{"sourceElementId": "Task_Pay", "targetElementId": "Task_Charge"},
           {"sourceElementId": "Task_Review", "targetElementId": "Task_Review"}]


def deploy(api, name: str) -> str:  # type: ignore[no-untyped-def]
    resp = deploy_file(api, name, (BPMN / name).read_bytes())
    assert resp.status_code == 200, resp.content
    return resp.json()["deployments"][0]["processDefinition"]["processDefinitionKey"]


def run_queued_batches() -> None:
    SimpleWorker([redis.queue("connectors")], connection=redis.connection("connectors")).work(burst=True)


@pytest.fixture
def many(api, flush_redis, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """v1 and v2 deployed, 25 v1 instances waiting; returns (keys, v1, v2)."""
    v1, v2 = deploy(api, "migration-v1.bpmn"), deploy(api, "migration-v2.bpmn")
    keys = [int(start(api, "migration", processDefinitionVersion=1, variables={"n": i})) for i in range(25)]
    drain()
    return keys, v1, v2


def create(api, path: str, body: dict, capture) -> dict:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        resp = api.post(f"/v2/process-instances/{path}", body, format="json")
    assert resp.status_code == 200, resp.content
    return resp.json()


@pytest.mark.django_db
def test_cancel_by_filter_with_progress_items_and_audit(api, many, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    keys, _, _ = many
    ours = keys[:10]
    body = {"filter": {"processInstanceKey": {"$in": [str(k) for k in ours]}, "state": "COMPLETED"},
            "operationReference": 1}
    made = create(api, "cancellation", body, django_capture_on_commit_callbacks)
    assert made["batchOperationType"] == "CANCEL_PROCESS_INSTANCE"
    key = made["batchOperationKey"]
    got = api.get(f"/v2/batch-operations/{key}").json()
    # The state in the filter is overridden (only active instances can be cancelled), as Camunda does.
    assert (got["state"], got["operationsTotalCount"], got["operationsCompletedCount"]) == ("CREATED", 10, 0)
    run_queued_batches()
    got = api.get(f"/v2/batch-operations/{key}").json()
    assert (got["state"], got["operationsCompletedCount"], got["operationsFailedCount"]) == ("COMPLETED", 10, 0)
    assert got["endDate"] and got["actorId"]
    drain()
    assert Counter(ProcessInstance.objects.filter(key__in=keys).values_list("state", flat=True)) == Counter(
        {"TERMINATED": 10, "ACTIVE": 15})
    items = api.post("/v2/batch-operation-items/search", {"filter": {"batchOperationKey": key}},
                     format="json").json()
    assert items["page"]["totalItems"] == 10 and {i["state"] for i in items["items"]} == {"COMPLETED"}
    assert AuditEntry.objects.filter(what="instance.cancel").count() == 10
    assert AuditEntry.objects.get(what="batch.create").after["count"] == 10
    # Search: by type and state.
    found = api.post("/v2/batch-operations/search", {"filter": {"operationType": "CANCEL_PROCESS_INSTANCE",
                                                                "state": "COMPLETED"}}, format="json").json()
    assert [b["batchOperationKey"] for b in found["items"]] == [key]


@pytest.mark.django_db
def test_a_cancel_batch_skips_an_instance_already_waiting_for_canceling_listeners(  # type: ignore[no-untyped-def]
        api, flush_redis, django_capture_on_commit_callbacks):
    deploy(api, "listener-canceling.bpmn")
    first, second = (int(start(api, "listener-canceling", variables={"orderId": o})) for o in ("A", "B"))
    drain()
    assert api.post(f"/v2/process-instances/{first}/cancellation", {}, format="json").status_code == 204
    drain()  # the first waits for its canceling listener: a second cancellation is refused
    assert_problem(api.post(f"/v2/process-instances/{first}/cancellation", {}, format="json"), 409)
    made = create(api, "cancellation", {"filter": {"processInstanceKey": {"$in": [str(first), str(second)]}}},
                  django_capture_on_commit_callbacks)
    run_queued_batches()
    items = api.post("/v2/batch-operation-items/search", {"filter": {"batchOperationKey": made["batchOperationKey"]}},
                     format="json").json()["items"]
    assert {i["itemKey"]: i["state"] for i in items} == {str(first): "SKIPPED", str(second): "COMPLETED"}
    drain()
    assert Counter(ProcessInstance.objects.filter(key__in=[first, second]).values_list("state", flat=True)) == Counter(
        {"ACTIVE": 2})  # both wait for their canceling listener job
    assert Command.objects.filter(process_instance_key=first, kind="CANCEL_INSTANCE").count() == 1


@pytest.mark.django_db
def test_migrate_by_filter_refusals_per_item_then_rerun(api, many, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    keys, v1, v2 = many
    # A plan that leaves Task_Pay unmapped: every item fails with the engine's reason; nothing moves.
    bad = create(api, "migration", {"filter": {"processDefinitionKey": v1}, "migrationPlan": {
        "targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING[1:]}}, django_capture_on_commit_callbacks)
    run_queued_batches()
    got = api.get(f"/v2/batch-operations/{bad['batchOperationKey']}").json()
    assert (got["state"], got["operationsFailedCount"]) == ("FAILED", 25)
    failed = api.post("/v2/batch-operation-items/search", {"filter": {"batchOperationKey": bad["batchOperationKey"],
                                                                      "state": "FAILED"}, "page": {"limit": 1}},
                      format="json").json()
    assert "no mapping instruction for active element 'Task_Pay'" in failed["items"][0]["errorMessage"]
    assert failed["page"]["totalItems"] == 25
    # One instance goes first by itself; the batch then skips it (already there): never migrated twice.
    single = api.post(f"/v2/process-instances/{keys[0]}/migration",
                      {"targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING}, format="json")
    assert single.status_code == 204
    drain()
    good = create(api, "migration", {"filter": {"processDefinitionId": "migration"}, "migrationPlan": {
        "targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING}}, django_capture_on_commit_callbacks)
    run_queued_batches()
    drain()
    batch = BatchOperation.objects.get(pk=int(good["batchOperationKey"]))
    assert len(batch.done) == 24 and batch.skipped == {str(keys[0]): f"already on process definition {v2}"}
    assert set(ProcessInstance.objects.filter(key__in=keys).values_list("definition_id", flat=True)) == {int(v2)}
    assert set(ElementInstance.objects.filter(process_instance_id__in=keys, state="ACTIVE").exclude(
        element_type="PROCESS").values_list("element_id", flat=True)) == {"Task_Charge", "Task_Review"}
    assert AuditEntry.objects.filter(what="instance.migrate").count() == 25


@pytest.mark.django_db
def test_suspend_resume_cancel(api, many, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    keys, _, _ = many
    made = create(api, "cancellation", {"filter": {"processDefinitionId": "migration"}},
                  django_capture_on_commit_callbacks)
    key = made["batchOperationKey"]
    assert api.post(f"/v2/batch-operations/{key}/suspension", format="json").status_code == 204
    run_queued_batches()  # the queued job finds it suspended and leaves it
    got = api.get(f"/v2/batch-operations/{key}").json()
    assert (got["state"], got["operationsCompletedCount"]) == ("SUSPENDED", 0)
    assert_problem(api.post(f"/v2/batch-operations/{key}/suspension", format="json"), 409)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/v2/batch-operations/{key}/resumption", format="json").status_code == 204
    run_queued_batches()
    got = api.get(f"/v2/batch-operations/{key}").json()
    assert (got["state"], got["operationsCompletedCount"]) == ("COMPLETED", 25)
    assert_problem(api.post(f"/v2/batch-operations/{key}/cancellation", format="json"), 409)  # finished
    # A queued batch cancelled before it ran does nothing; its items say so.
    other = create(api, "incident-resolution", {"filter": {}}, django_capture_on_commit_callbacks)
    assert other["batchOperationType"] == "RESOLVE_INCIDENT"
    assert api.post(f"/v2/batch-operations/{other['batchOperationKey']}/cancellation",
                    format="json").status_code == 204
    run_queued_batches()
    assert api.get(f"/v2/batch-operations/{other['batchOperationKey']}").json()["state"] == "CANCELED"
    assert {e.what for e in AuditEntry.objects.filter(what__startswith="batch.")} == {
        "batch.create", "batch.suspended", "batch.resumed", "batch.cancelled"}


@pytest.mark.django_db
def test_modification_by_filter(api, many, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    keys, _, _ = many
    first_five = {"variables": [{"name": "n", "value": {"$in": ["0", "1", "2", "3", "4"]}}]}
    made = create(api, "modification", {"filter": first_five,
                                        "moveInstructions": [{"sourceElementId": "Task_Review",
                                                              "targetElementId": "End_Review"}]},
                  django_capture_on_commit_callbacks)
    assert made["batchOperationType"] == "MODIFY_PROCESS_INSTANCE"
    run_queued_batches()
    drain()
    moved = ElementInstance.objects.filter(process_instance_id__in=keys, element_id="Task_Review", state="TERMINATED")
    assert moved.count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "status", "detail"), [
    ("cancellation", {}, 400, "filter"),
    ("cancellation", {"filter": {}, "extra": 1}, 400, "unknown field"),
    ("cancellation", {"filter": {"nope": 1}}, 400, "nope"),
    ("migration", {"filter": {}, "migrationPlan": {"targetProcessDefinitionKey": "12", "mappingInstructions": []}},
     400, "no process definition with key 12"),
    ("migration", {"filter": {}, "migrationPlan": {"mappingInstructions": []}}, 400, "targetProcessDefinitionKey"),
    ("modification", {"filter": {}, "moveInstructions": []}, 400, "moveInstructions"),
])
def test_bad_bodies_are_problems_and_store_nothing(api, many, path, body, status, detail):  # type: ignore[no-untyped-def]
    problem = assert_problem(api.post(f"/v2/process-instances/{path}", body, format="json"), status)
    assert detail in str(problem), problem
    assert not BatchOperation.objects.exists()


@pytest.mark.django_db
def test_rights_and_tenancy(api, many, creds, other_api, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    made = create(api, "cancellation", {"filter": {"processDefinitionId": "nothing-matches"}},
                  django_capture_on_commit_callbacks)
    key = made["batchOperationKey"]
    assert_problem(other_api.get(f"/v2/batch-operations/{key}"), 404)
    assert_problem(other_api.post(f"/v2/batch-operations/{key}/cancellation", format="json"), 404)
    assert other_api.post("/v2/batch-operations/search", {}, format="json").json()["items"] == []
    api_key, secret = ApiKey.issue(creds.tenant, "member-key", role="member")
    member = APIClient()
    member.credentials(HTTP_AUTHORIZATION=Credentials(creds.tenant, api_key.client_id, secret).header)
    assert_problem(member.post("/v2/process-instances/cancellation", {"filter": {}}, format="json"), 403)
    assert_problem(member.post(f"/v2/batch-operations/{key}/suspension", format="json"), 403)
    assert_problem(member.get(f"/v2/batch-operations/{key}"), 403)  # a member does not read operations either
    assert BatchOperation.objects.count() == 1
    assert not Incident.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_official_client_runs_batches(live_server, creds, start_worker):  # type: ignore[no-untyped-def]
    worker = start_worker()
    config = official_client_config(live_server.url, creds)
    try:
        with CamundaClient(configuration=config) as client:
            client.deploy_resources_from_files([BPMN / "migration-v1.bpmn"])
            v2 = client.deploy_resources_from_files([BPMN / "migration-v2.bpmn"]).processes[0]
            keys = [client.create_process_instance(data=ProcessCreationById(
                process_definition_id="migration", process_definition_version=1)).process_instance_key
                for _ in range(6)]
            wait_for(lambda: ElementInstance.objects.filter(element_id="Task_Pay", state="ACTIVE").count() == 6,
                     timeout=30)
            made = client.migrate_process_instances_batch_operation(data=ProcessInstanceMigrationBatchOperationRequest(
                filter_=ProcessInstanceCancellationBatchOperationRequestFilter.from_dict(
                    {"processDefinitionId": "migration", "processDefinitionVersion": 1}),
                migration_plan=ProcessInstanceMigrationBatchOperationPlan(
                    target_process_definition_key=v2.process_definition_key,
                    mapping_instructions=[MigrateProcessInstanceMappingInstruction(
                        source_element_id=m["sourceElementId"], target_element_id=m["targetElementId"])
                        for m in MAPPING])))
            done = wait_for(lambda: (b := client.get_batch_operation(made.batch_operation_key)).state.value
                            == "COMPLETED" and b, timeout=30)
            assert (done.operations_total_count, done.operations_completed_count) == (6, 6)
            wait_for(lambda: set(ProcessInstance.objects.filter(key__in=[int(k) for k in keys])
                                 .values_list("definition_id", flat=True)) == {int(v2.process_definition_key)},
                     timeout=30)
            cancelled = client.cancel_process_instances_batch_operation(
                data=ProcessInstanceCancellationBatchOperationRequest(
                    filter_=ProcessInstanceCancellationBatchOperationRequestFilter.from_dict(
                        {"processDefinitionId": "migration"})))
            wait_for(lambda: client.get_batch_operation(cancelled.batch_operation_key).state.value == "COMPLETED",
                     timeout=30)
            wait_for(lambda: not ProcessInstance.objects.filter(state="ACTIVE").exists(), timeout=30)
            found = client.search_batch_operations(data=BatchOperationSearchQuery.from_dict(
                {"filter": {"operationType": "MIGRATE_PROCESS_INSTANCE"}}))
            assert [b.batch_operation_key for b in found.items] == [made.batch_operation_key]
            items = client.search_batch_operation_items(data=BatchOperationItemSearchQuery.from_dict(
                {"filter": {"batchOperationKey": made.batch_operation_key}}))
            assert sorted(i.item_key for i in items.items) == sorted(keys)
            assert {i.state.value for i in items.items} == {"COMPLETED"}
            with pytest.raises(Exception, match="cannot be suspended"):  # finished: a 409 problem, its reason
                client.suspend_batch_operation(made.batch_operation_key)
    finally:
        assert worker.proc.poll() is None, worker.output()


@pytest.mark.django_db
def test_a_batch_whose_worker_died_is_taken_over_without_doing_anything_twice(  # type: ignore[no-untyped-def]
        api, many, django_capture_on_commit_callbacks):
    keys, _, _ = many
    made = create(api, "cancellation", {"filter": {"processDefinitionId": "migration"}},
                  django_capture_on_commit_callbacks)
    batch = BatchOperation.objects.get(pk=int(made["batchOperationKey"]))
    redis.queue("connectors").empty()  # the queued job is lost with the worker
    # The dead runner cancelled 7 instances but saved only 5 before it died.
    order = [int(k) for k in batch.keys]
    for key in order[:7]:
        cancel_instance(batch.tenant, key, "user:olga", timezone.now())
    stale = timezone.now() - timedelta(seconds=batches.STALE_SECONDS + 1)
    BatchOperation.objects.filter(pk=batch.pk).update(state="RUNNING", runner="dead", heartbeat_at=stale,
                                                      done=[str(k) for k in order[:5]])
    # A job of the same batch while a live runner holds it does nothing.
    BatchOperation.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())
    assert batches.run_batch(batch.pk).runner == "dead"
    BatchOperation.objects.filter(pk=batch.pk).update(heartbeat_at=stale)
    assert batches.requeue_stale(timezone.now()) == 1  # the engine workers' sweep
    run_queued_batches()
    batch.refresh_from_db()
    assert batch.state == "DONE" and batch.runner != "dead"
    assert len(batch.done) == 23 and set(batch.skipped) == {str(k) for k in order[5:7]}
    assert set(batch.skipped.values()) == {"cancellation already requested"}
    commands = Counter(Command.objects.filter(kind="CANCEL_INSTANCE").values_list("process_instance_key", flat=True))
    assert set(commands) == set(keys) and set(commands.values()) == {1}  # each instance cancelled once
    assert batches.requeue_stale(timezone.now()) == 0
