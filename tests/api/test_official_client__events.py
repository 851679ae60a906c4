"""Signal throw, escalation and link events, and a call activity bound by bindingType="deployment",
through the official Camunda 8 Python camunda, unmodified, against a live FlowSync (real HTTP,
PostgreSQL, Redis and an engine worker process).

The files are the conformance files (tests/engine/conformance/bpmn): a signal thrown by a process
reaches another instance's catch event and starts a signal start process; the same signal broadcast
through the API (one rule, engine/messages/signals.py) triggers a boundary event and starts another;
an escalation thrown in a called child is caught at the parent's call activity while the child goes
on; link events jump inside their scope; an ad-hoc subprocess runs the elements its collection lists and ends
when its completion condition holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    ElementInstanceSearchQuery,
    ElementInstanceSearchQueryFilter,
    IncidentSearchQuery,
    IncidentSearchQueryFilter,
    JobActivationRequest,
    JobCompletionRequest,
    JobCompletionRequestVariables,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
    ProcessInstanceSearchQuery,
    ProcessInstanceSearchQueryFilter,
    SignalBroadcastRequest,
    VariableSearchQuery,
    VariableSearchQueryFilter,
)

from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BPMN = Path(__file__).resolve().parents[1] / "engine" / "conformance" / "bpmn"
FILES = ["signal-throw", "signal-catch", "signal-start", "escalation-call", "escalation-child", "link-events"]
TIMEOUT = 30.0


def start(camunda: CamundaClient, process_id: str, **values: object) -> str:
    return camunda.create_process_instance(data=ProcessCreationById(
        process_definition_id=process_id,
        variables=ProcessInstanceCreationInstructionBaseVariables.from_dict(values))).process_instance_key


def state_of(camunda: CamundaClient, key: str) -> str:
    return camunda.get_process_instance(key).state.value


def elements(camunda: CamundaClient, key: str, state: str | None = None) -> list[str]:
    """The element ids of an instance's element instances (in a state), as the API lists them."""
    found = camunda.search_element_instances(data=ElementInstanceSearchQuery(
        filter_=ElementInstanceSearchQueryFilter(process_instance_key=key))).items
    return sorted(e.element_id for e in found if state is None or e.state.value == state)


def variable(camunda: CamundaClient, key: str, name: str) -> str | None:
    found = camunda.search_variables(data=VariableSearchQuery(filter_=VariableSearchQueryFilter(
        process_instance_key=key, name=name))).items
    return found[0].value if found else None


def instances_of(camunda: CamundaClient, process_id: str) -> list[str]:
    found = camunda.search_process_instances(data=ProcessInstanceSearchQuery(
        filter_=ProcessInstanceSearchQueryFilter(process_definition_id=process_id))).items
    return [i.process_instance_key for i in found]


def test_signal_escalation_and_link_events_end_to_end(camunda, start_worker):
    start_worker()
    deployed = camunda.deploy_resources_from_files([BPMN / f"{name}.bpmn" for name in FILES])
    assert sorted(p.process_definition_id for p in deployed.processes) == sorted(FILES)

    # Signals: a thrown signal reaches a waiting catch event and a signal start event.
    waiting = start(camunda, "signal-catch")
    wait_for(lambda: "Catch_OrderReady" in elements(camunda, waiting, "ACTIVE"), timeout=TIMEOUT)
    thrower = start(camunda, "signal-throw", orderId=42)
    wait_for(lambda: state_of(camunda, thrower) == "COMPLETED", timeout=TIMEOUT)
    wait_for(lambda: "Task_Pack" in elements(camunda, waiting, "ACTIVE"), timeout=TIMEOUT)
    assert variable(camunda, waiting, "readyOrder") == "42"
    [first] = wait_for(lambda: instances_of(camunda, "signal-start"), timeout=TIMEOUT)
    wait_for(lambda: state_of(camunda, first) == "COMPLETED", timeout=TIMEOUT)

    # The same signal broadcast through the API: the boundary event interrupts the task, another start.
    camunda.broadcast_signal(data=SignalBroadcastRequest(signal_name="shop-closed"))
    wait_for(lambda: state_of(camunda, waiting) == "COMPLETED", timeout=TIMEOUT)
    assert "EndEvent_Closed" in elements(camunda, waiting, "COMPLETED")
    assert elements(camunda, waiting, "TERMINATED") == ["Task_Pack"]
    wait_for(lambda: len(instances_of(camunda, "signal-start")) == 2, timeout=TIMEOUT)

    # Escalation from a called child (bound to the child of this deployment): caught at the call activity.
    parent = start(camunda, "escalation-call")
    wait_for(lambda: "Task_Note" in elements(camunda, parent, "COMPLETED"), timeout=TIMEOUT)
    assert variable(camunda, parent, "childLate") == "true"
    assert "Call_Child" in elements(camunda, parent, "ACTIVE")
    jobs = wait_for(lambda: camunda.activate_jobs(data=JobActivationRequest(
        type_="finish", timeout=30_000, max_jobs_to_activate=1, request_timeout=5_000)).jobs, timeout=TIMEOUT)
    assert jobs[0].process_definition_id == "escalation-child"
    camunda.complete_job(jobs[0].job_key)
    wait_for(lambda: state_of(camunda, parent) == "COMPLETED", timeout=TIMEOUT)
    assert camunda.search_incidents(data=IncidentSearchQuery(
        filter_=IncidentSearchQueryFilter(process_instance_key=parent))).items == []

    # Links: each throw lands on the catch of its own scope.
    linked = start(camunda, "link-events")
    wait_for(lambda: state_of(camunda, linked) == "COMPLETED", timeout=TIMEOUT)
    assert {"Link_ThrowPage", "Link_CatchPage", "Link_ThrowInner", "Link_CatchInner"} <= set(
        elements(camunda, linked, "COMPLETED"))
    assert variable(camunda, linked, "hops") == "2"


def test_ad_hoc_subprocess_end_to_end(camunda, start_worker):
    """Camunda 8.7's ad-hoc subprocess: the listed elements run; the completion condition ends it and the rest."""
    start_worker()
    deployed = camunda.deploy_resources_from_files([BPMN / "ad-hoc-subprocess.bpmn"])
    assert sorted(p.process_definition_id for p in deployed.processes) == ["ad-hoc-checks", "ad-hoc-until"]
    checks = start(camunda, "ad-hoc-checks", checks=["Task_Credit", "Task_Docs"])
    wait_for(lambda: state_of(camunda, checks) == "COMPLETED", timeout=TIMEOUT)
    assert elements(camunda, checks, "COMPLETED") == sorted(
        ["ad-hoc-checks", "StartEvent_1", "AdHoc_Checks", "Task_Credit", "Task_Docs", "Task_Archive", "EndEvent_1"])
    found = camunda.search_element_instances(data=ElementInstanceSearchQuery(
        filter_=ElementInstanceSearchQueryFilter(process_instance_key=checks, element_id="AdHoc_Checks"))).items
    assert [e.type_.value for e in found] == ["AD_HOC_SUB_PROCESS"]

    until = start(camunda, "ad-hoc-until", decided=False)
    jobs = wait_for(lambda: camunda.activate_jobs(data=JobActivationRequest(
        type_="ask-a", timeout=30_000, max_jobs_to_activate=1, request_timeout=5_000)).jobs, timeout=TIMEOUT)
    camunda.complete_job(jobs[0].job_key, data=JobCompletionRequest(
        variables=JobCompletionRequestVariables.from_dict({"decided": True})))
    wait_for(lambda: state_of(camunda, until) == "COMPLETED", timeout=TIMEOUT)
    assert elements(camunda, until, "TERMINATED") == ["Task_Ask_B"]
