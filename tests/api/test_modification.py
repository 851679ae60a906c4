"""POST /v2/process-instances/{key}/modification: Camunda 8's body, through the DRF client (shapes, problems,
rights, tenancy) and through the official Python client, unmodified, against a live server + engine worker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    ModifyProcessInstanceVariableInstruction,
    ModifyProcessInstanceVariableInstructionVariables,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
    ProcessInstanceModificationActivateInstruction,
    ProcessInstanceModificationInstruction,
    ProcessInstanceModificationMoveInstruction,
    ProcessInstanceModificationTerminateByKeyInstruction,
    SourceElementIdInstruction,
)
from rest_framework.test import APIClient

from engine.models import ElementInstance, Variable
from engine.runtime.loop import drain
from flowsync.models import ApiKey
from tests.api.conftest import assert_problem, official_client_config, start
from tests.conftest import Credentials, deploy_file, wait_for

BPMN = Path(__file__).resolve().parent / "bpmn"


def active(key: int | str) -> Counter[str]:
    return Counter(ElementInstance.objects.filter(process_instance_id=int(key), state="ACTIVE")
                   .values_list("element_id", flat=True))


def active_key(key: int | str, element_id: str) -> int:
    return ElementInstance.objects.get(process_instance_id=int(key), element_id=element_id, state="ACTIVE").key


@pytest.fixture
def waiting(api):  # type: ignore[no-untyped-def]
    assert deploy_file(api, "modification.bpmn", (BPMN / "modification.bpmn").read_bytes()).status_code == 200
    key = start(api, "modification", variables={"items": [1]})
    drain()
    assert active(key) == Counter(["modification", "Task_A"])
    return key


@pytest.mark.django_db
def test_move_with_the_camunda_body(api, waiting):  # type: ignore[no-untyped-def]
    task_a = active_key(waiting, "Task_A")
    resp = api.post(f"/v2/process-instances/{waiting}/modification", {
        "activateInstructions": [{"elementId": "Task_B", "ancestorElementInstanceKey": str(waiting),
                                  "variableInstructions": [{"variables": {"carrier": "DHL"}},
                                                           {"scopeId": "Task_B", "variables": {"try": 2}}]}],
        "terminateInstructions": [{"elementInstanceKey": str(task_a)}],
        "operationReference": 7,
    }, format="json")
    assert resp.status_code == 204, resp.content
    drain()
    assert active(waiting) == Counter(["modification", "Task_B"])
    task_b = active_key(waiting, "Task_B")
    assert Variable.objects.get(scope_key=waiting, name="carrier").value == "DHL"
    assert Variable.objects.get(scope_key=task_b, name="try").value == 2


@pytest.mark.django_db
def test_a_modification_is_audited_and_a_refused_one_is_not(api, waiting):  # type: ignore[no-untyped-def]
    from flowsync.models import AuditEntry

    refused = api.post(f"/v2/process-instances/{waiting}/modification",
                       {"activateInstructions": [{"elementId": "Nope"}]}, format="json")
    assert refused.status_code == 400
    assert not AuditEntry.objects.filter(what="instance.modify").exists()
    resp = api.post(f"/v2/process-instances/{waiting}/modification",
                    {"terminateInstructions": [{"elementId": "Task_A"}],
                     "activateInstructions": [{"elementId": "Task_B"}]}, format="json")
    assert resp.status_code == 204, resp.content
    [entry] = AuditEntry.objects.filter(what="instance.modify")
    assert (entry.process_instance_key, entry.via) == (int(waiting), "api")
    assert entry.after["activate"][0]["elementId"] == "Task_B"


@pytest.mark.django_db
def test_move_instruction_and_terminate_by_element_id(api, waiting):  # type: ignore[no-untyped-def]
    resp = api.post(f"/v2/process-instances/{waiting}/modification", {"moveInstructions": [{
        "sourceElementInstruction": {"sourceType": "byId", "sourceElementId": "Task_A"},
        "targetElementId": "SubProcess_Pack", "ancestorScopeInstruction": {"ancestorScopeType": "sourceParent"}}],
    }, format="json")
    assert resp.status_code == 204, resp.content
    drain()
    assert active(waiting) == Counter(["modification", "SubProcess_Pack", "Task_C"])
    resp = api.post(f"/v2/process-instances/{waiting}/modification",
                    {"terminateInstructions": [{"elementId": "Task_C"}]}, format="json")
    assert resp.status_code == 204, resp.content
    drain()
    assert not active(waiting)  # the last token went: the subprocess and the instance are terminated


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"activateInstructions": [{"elementId": "Nope"}]}, 400, "does not exist"),
    ({"activateInstructions": [{"elementId": "Boundary_Bad"}]}, 400, "boundary event"),
    ({"activateInstructions": [{"elementId": "Task_C"}]}, 400, "no active instance"),
    ({"activateInstructions": [{"elementId": "Task_B", "ancestorElementInstanceKey": "12"}]}, 400, "ancestor"),
    ({"terminateInstructions": [{"elementInstanceKey": "12"}]}, 400, "not an active element instance"),
    ({"terminateInstructions": [{}]}, 400, "exactly one"),
    ({"activateInstructions": [{"elementId": "Task_B", "extra": 1}]}, 400, "unknown field"),
    ({"moveInstructions": [{"sourceElementInstruction": {"sourceType": "byKey"}, "targetElementId": "Task_B"}]},
     400, "sourceElementInstanceKey"),
    ({"activateInstructions": "Task_B"}, 400, ""),
    ({}, 400, "no instructions"),
])
def test_bad_instructions_are_problems_and_change_nothing(api, waiting, body, status, detail):  # type: ignore[no-untyped-def]
    resp = api.post(f"/v2/process-instances/{waiting}/modification", body, format="json")
    problem = assert_problem(resp, status)
    assert detail in str(problem), problem
    drain()
    assert active(waiting) == Counter(["modification", "Task_A"])


@pytest.mark.django_db
def test_rights_and_tenancy(api, waiting, creds, other_api):  # type: ignore[no-untyped-def]
    body = {"activateInstructions": [{"elementId": "Task_B"}]}
    assert_problem(other_api.post(f"/v2/process-instances/{waiting}/modification", body, format="json"), 404)
    key, secret = ApiKey.issue(creds.tenant, "member-key", role="member")
    member = APIClient()
    member.credentials(HTTP_AUTHORIZATION=Credentials(creds.tenant, key.client_id, secret).header)
    assert_problem(member.post(f"/v2/process-instances/{waiting}/modification", body, format="json"), 403)
    drain()
    assert active(waiting) == Counter(["modification", "Task_A"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_official_client_modifies_an_instance(live_server, creds, start_worker):  # type: ignore[no-untyped-def]
    worker = start_worker()
    config = official_client_config(live_server.url, creds)
    try:
        with CamundaClient(configuration=config) as client:
            client.deploy_resources_from_files([BPMN / "modification.bpmn"])
            created = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="modification",
                variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"items": [1]})))
            key = created.process_instance_key
            wait_for(lambda: active(key) == Counter(["modification", "Task_A"]), timeout=30)
            # A move (Camunda's moveInstructions) …
            client.modify_process_instance(key, data=ProcessInstanceModificationInstruction(move_instructions=[
                ProcessInstanceModificationMoveInstruction(
                    source_element_instruction=SourceElementIdInstruction(source_type="byId",
                                                                          source_element_id="Task_A"),
                    target_element_id="Task_B")]))
            wait_for(lambda: active(key) == Counter(["modification", "Task_B"]), timeout=30)
            # … then activate + terminate with variables, one command.
            vars_ = ModifyProcessInstanceVariableInstructionVariables.from_dict({"box": "L"})
            client.modify_process_instance(key, data=ProcessInstanceModificationInstruction(
                activate_instructions=[ProcessInstanceModificationActivateInstruction(
                    element_id="SubProcess_Pack",
                    variable_instructions=[ModifyProcessInstanceVariableInstruction(variables=vars_)])],
                terminate_instructions=[ProcessInstanceModificationTerminateByKeyInstruction(
                    element_instance_key=str(active_key(key, "Task_B")))]))
            wait_for(lambda: active(key) == Counter(["modification", "SubProcess_Pack", "Task_C"]), timeout=30)
            assert Variable.objects.get(scope_key=int(key), name="box").value == "L"
            # A refusal reaches the client as its error with our reason.
            with pytest.raises(Exception, match="does not exist"):
                client.modify_process_instance(key, data=ProcessInstanceModificationInstruction(
                    activate_instructions=[ProcessInstanceModificationActivateInstruction(element_id="Nope")]))
    finally:
        assert worker.proc.poll() is None, worker.output()
