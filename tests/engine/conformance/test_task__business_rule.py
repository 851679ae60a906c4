"""Business rule task: `zeebe:calledDecision` evaluates a deployed DMN decision inside the step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.actions.incidents import resolve_incident
from engine.actions.variables import set_variables
from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy
from engine.models import DecisionDefinition, DecisionInstance, Incident, Job, ProcessInstance
from engine.runtime.loop import drain
from engine.store import retention

pytestmark = pytest.mark.django_db
HERE = Path(__file__).resolve().parent


def test_the_decision_result_lands_in_the_result_variable_and_steers_the_gateway(engine):
    engine.deploy_with_decisions(["business-rule-task"], ["risk"])
    low = engine.start("business-rule-task", amount=200, applicant={"country": "DE"})
    high = engine.start("business-rule-task", amount=200, applicant={"country": "XX"})
    engine.assert_clean_end(low)
    engine.assert_clean_end(high)
    assert engine.variables(low)["risk"] == {"level": "low", "reason": "default"}
    assert "End_Approved" in engine.completion_order(low)
    assert engine.variables(high)["risk"] == {"level": "high", "reason": "sanctioned country"}
    assert "End_Rejected" in engine.completion_order(high)


def test_each_evaluated_decision_is_recorded_with_inputs_and_matched_rules(engine):
    engine.deploy_with_decisions(["business-rule-task"], ["risk"])
    key = engine.start("business-rule-task", amount=5000, applicant={"country": "DE"})
    band, risk = DecisionInstance.objects.filter(process_instance_key=key).order_by("index")
    assert band.evaluation_key == risk.evaluation_key
    assert (band.index, band.decision.decision_id, band.result) == (1, "band", "large")
    assert (risk.index, risk.decision.decision_id, risk.state) == (2, "risk", "EVALUATED")
    assert risk.result == {"level": "medium", "reason": "large amount"}
    assert risk.root_decision_key == risk.decision.key and band.root_decision_key == risk.decision.key
    assert risk.inputs == [
        {"inputId": "in-band", "inputName": "Amount band", "inputValue": '"large"'},
        {"inputId": "in-country", "inputName": "Country", "inputValue": '"DE"'},
    ]
    [rule] = risk.matched_rules  # FIRST: the rule that decided
    assert (rule["ruleId"], rule["ruleIndex"]) == ("rule-large", 2)
    assert [(o["outputId"], o["outputValue"]) for o in rule["evaluatedOutputs"]] == [
        ("out-level", '"medium"'), ("out-reason", '"large amount"')]
    assert risk.element_id == "Task_Risk" and risk.element_instance_key is not None
    [record] = engine.records(key, "DECISION_EVALUATED")
    assert record["decisionEvaluationKey"] == str(risk.evaluation_key)


def test_a_missing_decision_is_a_called_decision_error_resolved_once_it_is_deployed(engine, creds):
    deploy(creds.tenant, [Resource("missing.bpmn", (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes()
                                    .replace(b'decisionId="risk"', b'decisionId="missing"')
                                    .replace(b'id="business-rule-task"', b'id="missing-decision"'))], engine.now())
    key = engine.start("missing-decision", amount=1)
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Risk", "CALLED_DECISION_ERROR")
    assert "no decision found for id 'missing'" in message
    deploy(creds.tenant, [Resource("missing.dmn", (HERE / "dmn" / "risk.dmn").read_bytes()
                                    .replace(b'id="risk"', b'id="missing"').replace(b'#band', b'#band2')
                                    .replace(b'id="band"', b'id="band2"')
                                    .replace(b'id="risk-rules"', b'id="missing-rules"'))], engine.now())
    incident = Incident.objects.get(process_instance_key=key, state="ACTIVE")
    resolve_incident([creds.tenant.pk], incident.key, "test", engine.now())
    drain()
    engine.assert_clean_end(key)
    assert engine.variables(key)["risk"]["level"] == "low"


def test_a_decision_error_is_a_decision_evaluation_error_incident_with_a_failed_instance(engine, creds):
    dmn = (HERE / "dmn" / "risk.dmn").read_bytes().replace(b'hitPolicy="FIRST"', b'hitPolicy="UNIQUE"')
    deploy(creds.tenant, [Resource("risk.dmn", dmn),
                          Resource("brt.bpmn", (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes())],
           engine.now())
    # Country XX: rules 1 and 3 (the catch-all) both hit a UNIQUE table.
    key = engine.start("business-rule-task", amount=10, applicant={"country": "XX"})
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Risk", "DECISION_EVALUATION_ERROR")
    assert "Expected to evaluate decision 'risk'" in message and "UNIQUE" in message
    failed = DecisionInstance.objects.get(process_instance_key=key, state="FAILED")
    assert failed.decision.decision_id == "risk" and "UNIQUE" in failed.evaluation_failure
    # Fix the data, resolve: the decision is evaluated again and the instance goes on.
    set_variables([creds.tenant.pk], key, {"applicant": {"country": "DE"}}, False, "test", engine.now())
    incident = Incident.objects.get(process_instance_key=key, state="ACTIVE")
    resolve_incident([creds.tenant.pk], incident.key, "test", engine.now())
    drain()
    engine.assert_clean_end(key)
    assert engine.variables(key)["risk"] == {"level": "low", "reason": "default"}


def test_binding_types_choose_the_version(engine, creds):
    source = (HERE / "dmn" / "risk.dmn").read_bytes()
    bpmn = (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes()
    bound = (bpmn.replace(b'resultVariable="risk" />', b'resultVariable="risk" bindingType="deployment" />')
             .replace(b'id="business-rule-task"', b'id="bound"'))
    tagged = (bpmn.replace(b'resultVariable="risk" />',
                           b'resultVariable="risk" bindingType="versionTag" versionTag="v1" />')
              .replace(b'id="business-rule-task"', b'id="tagged"'))
    deploy(creds.tenant, [Resource("risk.dmn", source), Resource("bound.bpmn", bound),
                          Resource("tagged.bpmn", tagged), Resource("latest.bpmn", bpmn)], engine.now())
    # Version 2 of the decision says "changed" by default and carries no version tag.
    v2 = source.replace(b'"default"', b'"changed"').replace(b'<zeebe:versionTag value="v1" />', b'')
    deploy(creds.tenant, [Resource("risk.dmn", v2)], engine.now())
    assert list(DecisionDefinition.objects.filter(decision_id="risk").values_list("version", flat=True)
                .order_by("version")) == [1, 2]
    reasons = {}
    for process_id in ("bound", "tagged", "business-rule-task"):
        key = engine.start(process_id, amount=1, applicant={"country": "DE"})
        engine.assert_clean_end(key)
        reasons[process_id] = engine.variables(key)["risk"]["reason"]
    assert reasons == {"bound": "default", "tagged": "default", "business-rule-task": "changed"}


def test_deployment_binding_needs_the_decision_in_the_same_deployment(engine, creds):
    bpmn = (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes().replace(
        b'resultVariable="risk" />', b'resultVariable="risk" bindingType="deployment" />')
    with pytest.raises(DefinitionError) as caught:
        deploy(creds.tenant, [Resource("bound.bpmn", bpmn)], engine.now())
    [problem] = caught.value.problems
    assert problem.element_id == "Task_Risk" and problem.line and "same deployment" in problem.message


def test_a_business_rule_task_with_a_task_definition_stays_a_job(engine, creds):
    bpmn = (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes().replace(
        b'<zeebe:calledDecision decisionId="risk" resultVariable="risk" />',
        b'<zeebe:taskDefinition type="rules" />')
    deploy(creds.tenant, [Resource("job.bpmn", bpmn)], engine.now())
    key = engine.start("business-rule-task", amount=1)
    [job] = Job.objects.filter(process_instance_key=key)
    assert job.type == "rules"
    engine.complete_jobs("rules", {"risk": {"level": "high"}})
    engine.assert_clean_end(key)
    assert "End_Rejected" in engine.completion_order(key)


@pytest.mark.postgres  # the parsed model is cached on PostgreSQL only (see engine/definitions/decisions.py)
def test_a_decision_step_costs_one_statement_more_than_a_script_step(engine, creds):
    """Resolving the called version: one indexed SELECT. The parsed model and the rows are cached, and
    the decision instances go with the batch's other new rows (a COPY, not in Django's query log)."""
    bpmn = (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes()
    script = (bpmn.replace(b"businessRuleTask", b"scriptTask")
              .replace(b'<zeebe:calledDecision decisionId="risk" resultVariable="risk" />',
                       b'<zeebe:script expression="={level: &quot;low&quot;}" resultVariable="risk" />')
              .replace(b'id="business-rule-task"', b'id="script-twin"'))
    deploy(creds.tenant, [Resource("risk.dmn", (HERE / "dmn" / "risk.dmn").read_bytes()),
                          Resource("brt.bpmn", bpmn), Resource("script.bpmn", script)], engine.now())

    def statements(process_id: str) -> int:
        engine.start(process_id, amount=1, applicant={"country": "DE"})  # warm the caches
        with CaptureQueriesContext(connection) as queries:
            key = engine.start(process_id, amount=1, applicant={"country": "DE"})
        engine.assert_clean_end(key)
        return len(queries)

    assert statements("business-rule-task") - statements("script-twin") == 1


def test_history_cleanup_takes_the_decision_instances_with_their_process_instance(engine):
    engine.deploy_with_decisions(["business-rule-task"], ["risk"])
    key = engine.start("business-rule-task", amount=1, applicant={"country": "DE"})
    engine.assert_clean_end(key)
    assert DecisionInstance.objects.filter(process_instance_key=key).count() == 2
    instance = ProcessInstance.objects.get(key=key)
    ProcessInstance.objects.filter(key=key).update(end_date=instance.end_date - timedelta(days=60))
    removed = retention.cleanup(engine.now())
    assert removed.rows["decision_instances"] == 2 and removed.instances == 1
    assert not DecisionInstance.objects.filter(process_instance_key=key).exists()


def test_the_decided_line_manager_is_assigned_the_approval(engine):
    """Output mappings apply to a business rule task as to any task: the result stays local, the
    mapping's target goes up and assigns the next user task."""
    engine.deploy_with_decisions(["absence-request"], ["line-manager"])
    key = engine.start("absence-request", department="marketing", employeeName="Ada")
    [task] = engine.user_tasks(key)
    assert (task.element_id, task.assignee) == ("ApproveAbsenceTask", "Paul")
    assert engine.variables(key) == {"department": "marketing", "employeeName": "Ada", "assignedLineManager": "Paul"}
    # No rule matches: the decision is null (not a failure), and so is the assignee.
    other = engine.start("absence-request", department="legal", employeeName="Bo")
    [task] = engine.user_tasks(other)
    assert task.assignee in ("", None) and engine.variables(other)["assignedLineManager"] is None


def test_a_multi_instance_business_rule_task_decides_per_item(engine, creds):
    """Sequential, so each item's result is collected before the next overwrites it (the result goes up
    like any task's result, as in Camunda; a parallel body would need an output mapping)."""
    bpmn = (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes().replace(
        b'<bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>',
        b'<bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>'
        b'<bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:extensionElements>'
        b'<zeebe:loopCharacteristics '
        b'inputCollection="=applicants" inputElement="applicant" outputCollection="risks" outputElement="=risk" />'
        b'</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>').replace(
        b'=risk.level = "high"', b'=some r in risks satisfies r.level = "high"')
    deploy(creds.tenant, [Resource("risk.dmn", (HERE / "dmn" / "risk.dmn").read_bytes()),
                          Resource("mi.bpmn", bpmn)], engine.now())
    key = engine.start("business-rule-task", amount=1, applicants=[{"country": "DE"}, {"country": "XX"}])
    engine.assert_clean_end(key)
    assert [r["level"] for r in engine.variables(key)["risks"]] == ["low", "high"]
    assert "End_Rejected" in engine.completion_order(key)
    assert DecisionInstance.objects.filter(process_instance_key=key, decision__decision_id="risk").count() == 2


def test_today_in_a_decision_is_the_steps_date(engine, creds):
    dmn = b'''<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="clock" name="Clock" namespace="x">
  <decision id="risk" name="Risk"><literalExpression id="Today"><text>{level: "low", day: today()}</text>
  </literalExpression></decision>
</definitions>'''
    deploy(creds.tenant, [Resource("clock.dmn", dmn),
                          Resource("brt.bpmn", (HERE / "bpmn" / "business-rule-task.bpmn").read_bytes())],
           engine.now())
    key = engine.start("business-rule-task")
    engine.assert_clean_end(key)
    started = ProcessInstance.objects.get(key=key).start_date
    assert engine.variables(key)["risk"] == {"level": "low", "day": started.date().isoformat()}
    assert DecisionInstance.objects.get(process_instance_key=key).decision.decision_type == "LITERAL_EXPRESSION"


def test_a_decision_on_an_imported_models_decision_and_bkm(engine, creds):
    # DMN import: the called decision requires a decision of another model deployed with it.
    engine.deploy_with_decisions(["business-rule-task"], ["risk-with-import", "amount-bands"])
    key = engine.start("business-rule-task", amount=5000, applicant={"country": "DE"})
    engine.assert_clean_end(key)
    assert engine.variables(key)["risk"] == {"level": "medium", "reason": "imported band large"}
    band, risk = DecisionInstance.objects.filter(process_instance_key=key).order_by("index")
    assert (band.decision.decision_id, band.result, band.decision.requirements.decision_requirements_id) == (
        "amount-band", "large", "amount-bands")
    assert (risk.decision.decision_id, risk.root_decision_key) == ("risk", risk.decision.key)
    [rule] = band.matched_rules
    assert rule["ruleId"] == "band-large"
