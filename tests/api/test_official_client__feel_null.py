"""FEEL failures in BPMN expressions (Camunda 8 semantics) through the official Camunda 8 Python client,
unmodified, against a live FlowSync (real HTTP, PostgreSQL, Redis and an engine worker process).

An output mapping `= "a" + 1` sets a null variable and the instance completes; a gateway condition that
is null because of a type error is a CONDITION_ERROR incident whose message names the warning, and
setting the variable and resolving the incident lets the instance complete.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    IncidentSearchQuery,
    IncidentSearchQueryFilter,
    JobActivationRequest,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
    SetVariableRequest,
    SetVariableRequestVariables,
    VariableSearchQuery,
    VariableSearchQueryFilter,
)

from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BPMN = Path(__file__).resolve().parents[1] / "engine" / "conformance" / "bpmn"
TIMEOUT = 30.0


def start(camunda: CamundaClient, process_id: str, **values: object) -> str:
    return camunda.create_process_instance(data=ProcessCreationById(
        process_definition_id=process_id,
        variables=ProcessInstanceCreationInstructionBaseVariables.from_dict(values))).process_instance_key


def state_of(camunda: CamundaClient, key: str) -> str:
    return camunda.get_process_instance(key).state.value


def complete_one(camunda: CamundaClient, job_type: str) -> None:
    jobs = wait_for(lambda: camunda.activate_jobs(data=JobActivationRequest(
        type_=job_type, timeout=30_000, max_jobs_to_activate=1, request_timeout=5_000)).jobs, timeout=TIMEOUT)
    camunda.complete_job(jobs[0].job_key)


def test_feel_failures_are_null_and_a_null_condition_is_an_incident(camunda, start_worker):
    start_worker()
    files = [BPMN / "feel-null.bpmn", BPMN / "exclusive-gateway-no-default.bpmn"]
    deployed = camunda.deploy_resources_from_files(files)
    assert sorted(p.process_definition_id for p in deployed.processes) == ["exclusive-gateway-no-default", "feel-null"]

    # An output mapping whose expression fails: a null variable, no incident, the instance completes.
    mapped = start(camunda, "feel-null", quantity=3, tier="gold")
    complete_one(camunda, "work")
    complete_one(camunda, "worker-gold")
    wait_for(lambda: state_of(camunda, mapped) == "COMPLETED", timeout=TIMEOUT)
    found = camunda.search_variables(data=VariableSearchQuery(filter_=VariableSearchQueryFilter(
        process_instance_key=mapped, name="sum"))).items
    assert [v.value for v in found] == ["null"]

    # A condition that is null because `"lots" < 10` failed: an incident that says why.
    key = start(camunda, "exclusive-gateway-no-default", approved=False, amount="lots")
    query = IncidentSearchQuery(filter_=IncidentSearchQueryFilter(process_instance_key=key))
    [incident] = wait_for(lambda: camunda.search_incidents(data=query).items, timeout=TIMEOUT)
    assert incident.error_type.value == "CONDITION_ERROR" and incident.element_id == "Gateway_Check"
    assert incident.error_message.endswith(
        "but it is null; the evaluation reported: cannot compare string with number using '<'")
    # The operator fixes the variable, then resolves: the gateway takes the flow it now can.
    camunda.create_element_instance_variables(key, data=SetVariableRequest(
        variables=SetVariableRequestVariables.from_dict({"amount": 5})))
    camunda.resolve_incident(incident.incident_key)
    wait_for(lambda: state_of(camunda, key) == "COMPLETED", timeout=TIMEOUT)
