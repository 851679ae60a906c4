"""DMN through the official Camunda 8 Python camunda, unmodified, against a live FlowSync (real HTTP,
PostgreSQL, Redis and an engine worker process).

The files are FlowSync's own equivalents of a public Camunda 8 example pair (see their header comments):
insurance-application.bpmn calls decision "risk" of risk-rating.dmn in a business rule task and routes on
the result. Deployed together; three applications decide green, red and yellow; the instances go on along
the decided path (the green and red ones to their end through job workers driven by the camunda); the
decision definitions, requirements and the evaluations (with inputs and matched rules) are read back, and
a decision is evaluated on request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    DecisionDefinitionSearchQuery,
    DecisionDefinitionSearchQueryFilter,
    DecisionEvaluationByID,
    DecisionEvaluationByIdVariables,
    DecisionInstanceSearchQuery,
    DecisionInstanceSearchQueryFilter,
    DecisionRequirementsSearchQuery,
    JobActivationRequest,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
)
from camunda_orchestration_sdk.errors import BadRequestError

from engine.models import ElementInstance
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BPMN = Path(__file__).resolve().parent / "bpmn"
TIMEOUT = 30.0


def work(camunda: CamundaClient, job_type: str, count: int) -> None:
    """Activate and complete `count` jobs of a type, as a worker would."""
    done = 0
    while done < count:
        jobs = camunda.activate_jobs(data=JobActivationRequest(
            type_=job_type, timeout=30_000, max_jobs_to_activate=count - done, request_timeout=10_000)).jobs
        for job in jobs:
            camunda.complete_job(job.job_key)
        done += len(jobs)


def test_a_real_bpmn_and_dmn_pair_deploys_decides_and_continues(camunda, start_worker):
    start_worker()
    deployed = camunda.deploy_resources_from_files([BPMN / "insurance-application.bpmn", BPMN / "risk-rating.dmn"])
    [process] = deployed.processes
    [decision] = deployed.decisions
    [requirements] = deployed.decision_requirements
    assert (decision.decision_definition_id, decision.version, decision.name) == ("risk", 1, "Risk rating")
    assert (requirements.decision_requirements_id, requirements.resource_name) == ("risk-rating", "risk-rating.dmn")
    assert decision.decision_requirements_key == requirements.decision_requirements_key

    def start(**values: object) -> str:
        created = camunda.create_process_instance(data=ProcessCreationById(
            process_definition_id="InsuranceApplication",
            variables=ProcessInstanceCreationInstructionBaseVariables.from_dict(values)))
        return created.process_instance_key

    green = start(age=40, vehicleManufacturer="Audi", vehicleModel="A4")
    red = start(age=22, vehicleManufacturer="Porsche", vehicleModel="p911")
    yellow = start(age=19, vehicleManufacturer="Volkswagen", vehicleModel="Golf")
    # The decision sent each application its own way: jobs for green and red, a clerk's task for yellow.
    wait_for(lambda: ElementInstance.objects.filter(process_instance_id=int(yellow), element_id="Task_Check",
                                                    state="ACTIVE").exists(), TIMEOUT)
    work(camunda, "issuePolicy", 1)
    work(camunda, "rejectApplication", 1)
    work(camunda, "sendPolicy", 1)
    work(camunda, "sendRejection", 1)
    for key in (green, red):
        wait_for(lambda key=key: camunda.get_process_instance(key).state.value == "COMPLETED", TIMEOUT)
    ended = {key: set(ElementInstance.objects.filter(process_instance_id=int(key), element_type="END_EVENT")
                      .values_list("element_id", flat=True)) for key in (green, red)}
    assert ended == {green: {"End_PolicyIssued"}, red: {"End_Rejected"}}
    assert camunda.get_process_instance(yellow).state.value == "ACTIVE"

    # What was decided, per instance: inputs, the rule that matched, the result.
    found = camunda.search_decision_instances(data=DecisionInstanceSearchQuery(
        filter_=DecisionInstanceSearchQueryFilter(process_instance_key=red))).items
    [instance] = found
    assert instance.decision_definition_id == "risk" and instance.state.value == "EVALUATED"
    assert json.loads(instance.result) == {"group": "red", "comment": "Not an option"}
    detail = camunda.get_decision_instance(instance.decision_evaluation_instance_key)
    assert [(i.input_name, json.loads(i.input_value)) for i in detail.evaluated_inputs] == [
        ("Age", 22), ("Vehicle Manufacturer", "Porsche"), ("Vehicle Model", "p911")]
    [rule] = detail.matched_rules  # FIRST: the first rule that matched decides
    assert (rule.rule_id, rule.rule_index) == ("Rule_YoungPorsche", 1)
    assert [(o.output_name, json.loads(o.output_value)) for o in rule.evaluated_outputs] == [
        ("group", "red"), ("comment", "Not an option")]
    assert detail.element_instance_key is not None and detail.process_definition_key == process.process_definition_key

    # Decision definitions and requirements: search, get, XML.
    definitions = camunda.search_decision_definitions(data=DecisionDefinitionSearchQuery(
        filter_=DecisionDefinitionSearchQueryFilter(decision_definition_id="risk"))).items
    assert [(d.decision_definition_key, d.decision_requirements_name) for d in definitions] == [
        (decision.decision_definition_key, "Risk rating DRD")]
    assert camunda.get_decision_definition(decision.decision_definition_key).version == 1
    assert 'id="risk"' in camunda.get_decision_definition_xml(decision.decision_definition_key)
    [drg] = camunda.search_decision_requirements(data=DecisionRequirementsSearchQuery()).items
    assert camunda.get_decision_requirements(drg.decision_requirements_key).resource_name == "risk-rating.dmn"
    assert "<decisionTable" in camunda.get_decision_requirements_xml(drg.decision_requirements_key)

    # Evaluated on request: the answer carries the output and the evaluated decision, and it is recorded.
    result = camunda.evaluate_decision(data=DecisionEvaluationByID(
        decision_definition_id="risk", variables=DecisionEvaluationByIdVariables.from_dict(
            {"age": 28, "vehicleManufacturer": "BMW", "vehicleModel": "M3"})))
    assert json.loads(result.output) == {"group": "yellow", "comment": "Statistically high risk"}
    [evaluated] = result.evaluated_decisions
    assert evaluated.matched_rules[0].rule_id == "Rule_YoungBmw" and result.failure_message is None
    recorded = camunda.get_decision_instance(evaluated.decision_evaluation_instance_key)
    assert recorded.process_instance_key is None and json.loads(recorded.result)["group"] == "yellow"

    # Re-deploying the same files creates no new versions.
    again = camunda.deploy_resources_from_files([BPMN / "insurance-application.bpmn", BPMN / "risk-rating.dmn"])
    assert again.decisions[0].decision_definition_key == decision.decision_definition_key

    # A decision that does not exist is a 404 problem; a bad request a 400 problem.
    with pytest.raises(Exception) as missing:
        camunda.evaluate_decision(data=DecisionEvaluationByID(decision_definition_id="nope"))
    assert "404" in str(missing.value) or "Not" in type(missing.value).__name__
    with pytest.raises(BadRequestError):
        camunda.search_decision_instances(data=DecisionInstanceSearchQuery(
            filter_=DecisionInstanceSearchQueryFilter(decision_definition_version=-1.5)))  # type: ignore[arg-type]
