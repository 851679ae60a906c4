"""POST /v2/process-instances/{key}/migration: Camunda 8's body and refusals through the DRF client, and a
real instance waiting on a user task and a job moving to v2 and completing there — driven by the
official Python client, unmodified, against a live server + engine worker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    JobActivationRequest,
    MigrateProcessInstanceMappingInstruction,
    ProcessCreationById,
    ProcessInstanceMigrationInstruction,
)
from rest_framework.test import APIClient

from engine.models import Command, ElementInstance, Job, ProcessInstance, Timer, UserTask
from engine.runtime.loop import drain
from flowsync.models import ApiKey, AuditEntry
from tests.api.conftest import assert_problem, complete_jobs, official_client_config, start
from tests.conftest import Credentials, deploy_file, wait_for

BPMN = Path(__file__).resolve().parent / "bpmn"
MAPPING = [{"sourceElementId": "Task_Pay", "targetElementId": "Task_Charge"},
           {"sourceElementId": "Task_Review", "targetElementId": "Task_Review"}]


def active(key: int | str) -> Counter[str]:
    return Counter(ElementInstance.objects.filter(process_instance_id=int(key), state="ACTIVE")
                   .values_list("element_id", flat=True))


def deploy(api, name: str) -> str:  # type: ignore[no-untyped-def]
    resp = deploy_file(api, name, (BPMN / name).read_bytes())
    assert resp.status_code == 200, resp.content
    return resp.json()["deployments"][0]["processDefinition"]["processDefinitionKey"]


@pytest.fixture
def v1_waiting(api):  # type: ignore[no-untyped-def]
    """v1 and v2 deployed; one v1 instance waiting at its service task and its user task."""
    v1 = deploy(api, "migration-v1.bpmn")
    v2 = deploy(api, "migration-v2.bpmn")
    key = start(api, "migration", processDefinitionVersion=1)
    drain()
    assert active(key) == Counter(["migration", "Task_Pay", "Task_Review"])
    return key, v1, v2


@pytest.mark.django_db
def test_migrate_moves_rows_and_the_instance_completes_on_v2(api, v1_waiting):  # type: ignore[no-untyped-def]
    key, v1, v2 = v1_waiting
    job = Job.objects.get(process_instance_key=key)
    task = UserTask.objects.get(process_instance_key=key)
    resp = api.post(f"/v2/process-instances/{key}/migration",
                    {"targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING, "operationReference": 3},
                    format="json")
    assert resp.status_code == 204, resp.content
    drain()
    assert Command.objects.get(kind="MIGRATE_INSTANCE").state == "PROCESSED"
    assert ProcessInstance.objects.get(key=key).definition_id == int(v2)
    assert active(key) == Counter(["migration", "Task_Charge", "Task_Review"])
    job.refresh_from_db()
    task.refresh_from_db()
    # Same rows, same keys, relabelled: the job keeps its type and retries (Camunda), the task its assignee.
    assert (job.element_id, job.process_definition_key, job.process_definition_version, job.type) == (
        "Task_Charge", int(v2), 2, "mig-pay")
    assert (task.element_id, task.process_definition_version, task.assignee) == ("Task_Review", 2, "demo")
    # v2's boundary timer on the review task is opened for the migrated element instance.
    timer = Timer.objects.get(process_instance_key=key, state="ACTIVE")
    assert (timer.element_id, timer.element_instance_key) == ("Review_Late", task.element_instance_key)
    entry = AuditEntry.objects.get(what="instance.migrate")
    assert entry.after["targetProcessDefinitionKey"] == v2 and entry.before == {"processDefinitionKey": v1}
    # It goes on along v2's flows: the job completes into v2's subprocess.
    complete_jobs(api, "mig-pay")
    assert active(key) == Counter(["migration", "Sub_Ship", "Task_Pack", "Task_Review"])
    complete_jobs(api, "mig-pack")
    resp = api.post(f"/v2/user-tasks/{task.key}/completion", {}, format="json")
    assert resp.status_code == 204, resp.content
    drain()
    complete_jobs(api, "mig-notify")
    assert ProcessInstance.objects.get(key=key).state == "COMPLETED"
    assert Timer.objects.get(key=timer.key).state == "CANCELED"


@pytest.mark.django_db
@pytest.mark.parametrize(("mapping", "status", "detail"), [
    ([{"sourceElementId": "Task_Review", "targetElementId": "Task_Review"}], 409,
     "no mapping instruction for active element 'Task_Pay'"),
    ([*MAPPING[1:], {"sourceElementId": "Task_Pay", "targetElementId": "Task_Review"}], 409,
     "element type cannot be changed from serviceTask"),
    ([*MAPPING[1:], {"sourceElementId": "Task_Pay", "targetElementId": "Task_Pack"}], 409,
     "flow scope of active element 'Task_Pay' cannot be changed"),
    ([*MAPPING, {"sourceElementId": "Nope", "targetElementId": "Task_Review"}], 400, "source element 'Nope'"),
    ([*MAPPING[1:], {"sourceElementId": "Task_Pay", "targetElementId": "Nope"}], 400, "target element 'Nope'"),
    ([*MAPPING, {"sourceElementId": "Task_Pay", "targetElementId": "Task_Notify"}], 400, "more than once"),
])
def test_refusals_say_why_and_change_nothing(api, v1_waiting, mapping, status, detail):  # type: ignore[no-untyped-def]
    key, v1, v2 = v1_waiting
    resp = api.post(f"/v2/process-instances/{key}/migration",
                    {"targetProcessDefinitionKey": v2, "mappingInstructions": mapping}, format="json")
    problem = assert_problem(resp, status)
    assert detail in problem["detail"], problem
    drain()
    assert ProcessInstance.objects.get(key=key).definition_id == int(v1)
    assert active(key) == Counter(["migration", "Task_Pay", "Task_Review"])
    assert not AuditEntry.objects.filter(what="instance.migrate").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"targetProcessDefinitionKey": "12", "mappingInstructions": MAPPING}, 404, "no process definition"),
    ({"mappingInstructions": MAPPING}, 400, "targetProcessDefinitionKey"),
    ({"targetProcessDefinitionKey": "x1", "mappingInstructions": MAPPING}, 400, "not a key"),
    ({"targetProcessDefinitionKey": "12", "mappingInstructions": [{"sourceElementId": "A"}]}, 400, "targetElementId"),
    ({"targetProcessDefinitionKey": "12", "mappingInstructions": MAPPING, "extra": 1}, 400, "unknown field"),
])
def test_bad_bodies_are_problems(api, v1_waiting, body, status, detail):  # type: ignore[no-untyped-def]
    key, _, _ = v1_waiting
    problem = assert_problem(api.post(f"/v2/process-instances/{key}/migration", body, format="json"), status)
    assert detail in str(problem), problem


@pytest.mark.django_db
def test_checked_again_when_applied(api, v1_waiting):  # type: ignore[no-untyped-def]
    """The job completes between the request and the engine: Task_Pay is gone, the plan is checked anew."""
    key, _, v2 = v1_waiting
    job = api.post("/v2/jobs/activation", {"type": "mig-pay", "timeout": 10_000, "maxJobsToActivate": 1,
                                           "requestTimeout": -1}, format="json").json()["jobs"][0]
    assert api.post(f"/v2/jobs/{job['jobKey']}/completion", format="json").status_code == 204
    resp = api.post(f"/v2/process-instances/{key}/migration",
                    {"targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING[:1] + [
                        {"sourceElementId": "Task_Review", "targetElementId": "Task_Notify"}]}, format="json")
    assert_problem(resp, 409)  # Task_Review → a service task: refused before the write
    resp = api.post(f"/v2/process-instances/{key}/migration",
                    {"targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING}, format="json")
    assert resp.status_code == 204
    drain()  # the completion applies first, then the migration (Task_Pay no longer active: fine)
    assert active(key) == Counter(["migration", "Task_Review"])
    assert ProcessInstance.objects.get(key=key).definition_id == int(v2)


@pytest.mark.django_db
def test_rights_and_tenancy(api, v1_waiting, creds, other_api):  # type: ignore[no-untyped-def]
    key, v1, v2 = v1_waiting
    body = {"targetProcessDefinitionKey": v2, "mappingInstructions": MAPPING}
    assert_problem(other_api.post(f"/v2/process-instances/{key}/migration", body, format="json"), 404)
    api_key, secret = ApiKey.issue(creds.tenant, "member-key", role="member")
    member = APIClient()
    member.credentials(HTTP_AUTHORIZATION=Credentials(creds.tenant, api_key.client_id, secret).header)
    assert_problem(member.post(f"/v2/process-instances/{key}/migration", body, format="json"), 403)
    drain()
    assert ProcessInstance.objects.get(key=key).definition_id == int(v1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_official_client_migrates_a_waiting_instance(live_server, creds, start_worker):  # type: ignore[no-untyped-def]
    worker = start_worker()
    config = official_client_config(live_server.url, creds)
    try:
        with CamundaClient(configuration=config) as client:
            client.deploy_resources_from_files([BPMN / "migration-v1.bpmn"])
            v2 = client.deploy_resources_from_files([BPMN / "migration-v2.bpmn"]).processes[0]
            created = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="migration", process_definition_version=1))
            key = created.process_instance_key
            wait_for(lambda: active(key) == Counter(["migration", "Task_Pay", "Task_Review"]), timeout=30)
            client.migrate_process_instance(key, data=ProcessInstanceMigrationInstruction(
                target_process_definition_key=v2.process_definition_key,
                mapping_instructions=[MigrateProcessInstanceMappingInstruction(
                    source_element_id=m["sourceElementId"], target_element_id=m["targetElementId"]) for m in MAPPING]))
            wait_for(lambda: active(key) == Counter(["migration", "Task_Charge", "Task_Review"]), timeout=30)
            # The job, activated by a worker after the migration, names v2's element.
            jobs = client.activate_jobs(data=JobActivationRequest(type_="mig-pay", timeout=30_000,
                                                              max_jobs_to_activate=1, request_timeout=5_000)).jobs
            assert [(j.element_id, j.process_definition_version) for j in jobs] == [("Task_Charge", 2)]
            client.complete_job(jobs[0].job_key)
            wait_for(lambda: "Task_Pack" in active(key), timeout=30)
            # A refusal reaches the client as its error with our reason.
            with pytest.raises(Exception, match="no mapping instruction"):
                client.migrate_process_instance(key, data=ProcessInstanceMigrationInstruction(
                    target_process_definition_key=v2.process_definition_key, mapping_instructions=[]))
    finally:
        assert worker.proc.poll() is None, worker.output()
