from __future__ import annotations

from engine.definitions import decisions
from engine.graph import Element
from engine.models import DecisionDefinition, ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.job_task import JobTaskBehavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate, why
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result

_JOB = JobTaskBehavior()
CALLED_DECISION_ERROR = "CALLED_DECISION_ERROR"
DECISION_EVALUATION_ERROR = "DECISION_EVALUATION_ERROR"


class BusinessRuleTaskBehavior(Behavior):
    """`zeebe:calledDecision`: evaluate the DMN decision in this step, store its result in
    `resultVariable`, complete at once. The evaluated decisions are written as decision instances
    with the step's other rows; a decision that is missing or fails raises an incident (resolving
    it evaluates again).

    A business rule task with a `zeebe:taskDefinition` instead is a job for a worker.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        props = element.props
        if "decisionId" not in props:
            _JOB.activate(run, ei, element)
            return
        definition = _called(run, ei, props)
        evaluation = decisions.evaluate_definition(definition, run.visible_variables(ei.key), run.now)
        evaluation_key = run.keys.take()
        run.decision_instances.extend(decisions.instance_rows(
            evaluation, evaluation_key, run.now, process_definition_key=run.definition.key,
            process_instance_key=run.instance.key, root_process_instance_key=run.instance.root_instance_key,
            element_instance_key=ei.key, element_id=element.id, business_id=run.instance.business_key))
        run.record("DECISION_EVALUATED", ei, decisionEvaluationKey=str(evaluation_key),
                   decisionDefinitionKey=str(definition.key), decisionId=definition.decision_id,
                   failed=evaluation.failure is not None)
        if evaluation.failure is not None:
            failed = evaluation.failed.decision_id if evaluation.failed else definition.decision_id
            raise IncidentRaised(DECISION_EVALUATION_ERROR, f"Expected to evaluate decision '{definition.decision_id}'"
                                 f", but failed to evaluate decision '{failed}': {evaluation.failure}")
        set_result(run, ei, element, {props["resultVariable"]: evaluation.output})
        complete(run, ei)

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        if "decisionId" not in element.props:
            _JOB.terminate(run, ei, element)


def _called(run: InstanceRun, ei: ElementInstance, props: dict) -> DecisionDefinition:  # type: ignore[type-arg]
    if props.get("decisionKey"):  # bindingType="deployment", resolved when the process was deployed
        found = decisions.decision_by_key(int(props["decisionKey"]))
        if found is not None and found.tenant_id == run.tenant_id:
            return found
    decision_id = evaluate(run, ei.key, props["decisionId"], CALLED_DECISION_ERROR)
    if not isinstance(decision_id, str) or not decision_id:
        reason = why(run, ei.key, props["decisionId"], decision_id)
        raise IncidentRaised(CALLED_DECISION_ERROR, f"Expected the decisionId to be a non-empty string, but it was "
                                                    f"{decision_id!r}{reason}")
    binding = props.get("bindingType", "latest")
    found = decisions.called_decision(run.tenant_id, decision_id, binding, props.get("versionTag", ""), run.now)
    if found is None:
        tag = f" with version tag '{props.get('versionTag')}'" if binding == "versionTag" else ""
        raise IncidentRaised(CALLED_DECISION_ERROR, f"Expected to evaluate decision '{decision_id}', but no decision "
                                                    f"found for id '{decision_id}'{tag}")
    return found
