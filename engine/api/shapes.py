"""Engine rows → Camunda 8 response bodies (every required field present, null for "no value"; keys as strings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.models import (
    DecisionDefinition,
    DecisionInstance,
    DecisionRequirements,
    ElementInstance,
    Form,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
    Variable,
)
from engine.models.incidents import ERROR_TYPES as INCIDENT_ERROR_TYPES

# Values longer than this (serialised) are cut in variable search results unless truncateValues=false.
VARIABLE_TRUNCATE_CHARS = 8191

ELEMENT_TYPES = frozenset(
    {
        "PROCESS", "SUB_PROCESS", "EVENT_SUB_PROCESS", "AD_HOC_SUB_PROCESS", "AD_HOC_SUB_PROCESS_INNER_INSTANCE",
        "START_EVENT", "INTERMEDIATE_CATCH_EVENT", "INTERMEDIATE_THROW_EVENT", "BOUNDARY_EVENT", "END_EVENT",
        "SERVICE_TASK", "RECEIVE_TASK", "USER_TASK", "MANUAL_TASK", "TASK", "EXCLUSIVE_GATEWAY", "INCLUSIVE_GATEWAY",
        "PARALLEL_GATEWAY", "EVENT_BASED_GATEWAY", "SEQUENCE_FLOW", "MULTI_INSTANCE_BODY", "CALL_ACTIVITY",
        "BUSINESS_RULE_TASK", "SCRIPT_TASK", "SEND_TASK", "UNKNOWN", "UNSPECIFIED",
    }
)
# Engine job states → Camunda JobStateEnum (a job waiting for or held by a worker is CREATED).
JOB_STATES: dict[str, str] = {
    Job.State.ACTIVATABLE: "CREATED",
    Job.State.ACTIVATED: "CREATED",
    Job.State.FAILED: "FAILED",
    Job.State.COMPLETED: "COMPLETED",
    Job.State.ERROR_THROWN: "ERROR_THROWN",
    Job.State.CANCELED: "CANCELED",
}


def key(value: int | None) -> str | None:
    return None if value is None else str(value)


def date(value: datetime | None) -> str | None:
    if value is None:
        return None

    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def process_definition_ref(d: ProcessDefinition, tenant_id: str) -> dict[str, Any]:
    return {
        "processDefinitionId": d.bpmn_process_id,
        "processDefinitionVersion": d.version,
        "resourceName": d.resource_name,
        "tenantId": tenant_id,
        "processDefinitionKey": key(d.key),
    }


def form_ref(f: Form, tenant_id: str) -> dict[str, Any]:
    return {"formId": f.form_id, "version": f.version, "resourceName": f.resource_name, "tenantId": tenant_id,
            "formKey": key(f.key)}


def form(f: Form, tenant_id: str) -> dict[str, Any]:
    return {"tenantId": tenant_id, "formId": f.form_id, "schema": f.text, "version": f.version,
            "formKey": key(f.key)}


def process_definition(d: ProcessDefinition, tenant_id: str, has_start_form: bool) -> dict[str, Any]:
    return {
        "name": d.name or None,
        "resourceName": d.resource_name,
        "version": d.version,
        "versionTag": d.version_tag or None,
        "processDefinitionId": d.bpmn_process_id,
        "tenantId": tenant_id,
        "processDefinitionKey": key(d.key),
        "hasStartForm": has_start_form,
        "state": "ACTIVE",
    }


def process_instance(pi: ProcessInstance, tenant_id: str) -> dict[str, Any]:
    d = pi.definition
    return {
        "processDefinitionId": d.bpmn_process_id,
        "processDefinitionName": d.name or d.bpmn_process_id,
        "processDefinitionVersion": d.version,
        "processDefinitionVersionTag": d.version_tag or None,
        "startDate": date(pi.start_date),
        "endDate": date(pi.end_date),
        "state": pi.state,
        "suspendedDate": None,
        "hasIncident": pi.has_incident,
        "tenantId": tenant_id,
        "processInstanceKey": key(pi.key),
        "processDefinitionKey": key(d.key),
        "parentProcessInstanceKey": key(pi.parent_instance_key),
        "parentElementInstanceKey": key(pi.parent_element_instance_key),
        "rootProcessInstanceKey": key(pi.root_instance_key),
        "tags": [],
        "businessId": pi.business_key or None,
    }


def created_instance(
    pi: ProcessInstance, d: ProcessDefinition, tenant_id: str, variables: dict[str, Any], tags: list[str]
) -> dict[str, Any]:
    return {
        "processDefinitionId": d.bpmn_process_id,
        "processDefinitionVersion": d.version,
        "tenantId": tenant_id,
        "variables": variables,
        "processDefinitionKey": key(d.key),
        "processInstanceKey": key(pi.key),
        "tags": tags,
        "businessId": pi.business_key or None,
    }


def element_instance(ei: ElementInstance, tenant_id: str, name: str) -> dict[str, Any]:
    pi = ei.process_instance
    return {
        "processDefinitionId": pi.definition.bpmn_process_id,
        "startDate": date(ei.start_date),
        "endDate": date(ei.end_date),
        "elementId": ei.element_id,
        "elementName": name or ei.element_id,
        "type": ei.element_type if ei.element_type in ELEMENT_TYPES else "UNKNOWN",
        "state": ei.state,
        "hasIncident": ei.incident_key is not None,
        "tenantId": tenant_id,
        "elementInstanceKey": key(ei.key),
        "processInstanceKey": key(pi.key),
        "rootProcessInstanceKey": key(pi.root_instance_key),
        "processDefinitionKey": key(pi.definition_id),
        "incidentKey": key(ei.incident_key),
    }


def variable(v: Variable, tenant_id: str, truncate: bool | None) -> dict[str, Any]:
    """A variable; `truncate` None = the single-variable shape (full value, no isTruncated)."""
    text = json_text(v.value)
    body: dict[str, Any] = {
        "value": text,
        "name": v.name,
        "tenantId": tenant_id,
        "variableKey": key(v.key),
        "scopeKey": key(v.scope_key),
        "processInstanceKey": key(v.process_instance_id),
        "rootProcessInstanceKey": key(v.process_instance.root_instance_key),
    }
    if truncate is not None:
        cut = truncate and len(text) > VARIABLE_TRUNCATE_CHARS
        body["value"] = text[:VARIABLE_TRUNCATE_CHARS] if cut else text
        body["isTruncated"] = cut
    return body


def incident(inc: Incident, tenant_id: str, root_key: int | None) -> dict[str, Any]:
    return {
        "processDefinitionId": inc.bpmn_process_id,
        "errorType": inc.error_type if inc.error_type in INCIDENT_ERROR_TYPES else "UNKNOWN",
        "errorMessage": inc.error_message,
        "elementId": inc.element_id,
        "creationTime": date(inc.created_at),
        "state": inc.state,
        "tenantId": tenant_id,
        "incidentKey": key(inc.key),
        "processDefinitionKey": key(inc.process_definition_key),
        "processInstanceKey": key(inc.process_instance_key),
        "rootProcessInstanceKey": key(root_key if root_key is not None else inc.process_instance_key),
        "elementInstanceKey": key(inc.element_instance_key),
        "jobKey": key(inc.job_key),
    }


def listened_task(job: Job, task: UserTask) -> dict[str, Any]:
    """Camunda 8's `userTask` of a task listener's activated job: the task as the listener sees it."""
    transition = getattr(task, "listener_transition", None) or {}  # an assignment or update under way
    return {
        "action": transition.get("action") or {"CREATING": "create", "ASSIGNING": "assign", "UPDATING": "update",
                                               "COMPLETING": "complete"}.get(job.listener_event_type, ""),
        "assignee": task.assignee or None,
        "candidateGroups": list(task.candidate_groups or []),
        "candidateUsers": list(task.candidate_users or []),
        "changedAttributes": list(transition.get("changed") or []),
        "dueDate": date(task.due_date),
        "followUpDate": date(task.follow_up_date),
        "formKey": None,
        "priority": task.priority,
        "userTaskKey": key(task.key),
    }


def activated_job(job: Job, variables: dict[str, Any], tenant_id: str, root_key: int | None = None,
                  with_lease: bool = False, user_task: UserTask | None = None) -> dict[str, Any]:
    return {
        "type": job.type,
        "processDefinitionId": job.bpmn_process_id,
        "processDefinitionVersion": job.process_definition_version,
        "elementId": job.element_id,
        "customHeaders": job.custom_headers,
        "worker": job.worker,
        "retries": job.retries,
        "deadline": epoch_ms(job.deadline),
        "variables": variables,
        "tenantId": tenant_id,
        "physicalTenantId": tenant_id,
        "jobKey": key(job.key),
        "processInstanceKey": key(job.process_instance_key),
        "processDefinitionKey": key(job.process_definition_key),
        "elementInstanceKey": key(job.element_instance_key),
        "kind": job.kind,
        "listenerEventType": job.listener_event_type,
        "userTask": listened_task(job, user_task) if user_task is not None else None,
        "tags": [],
        "rootProcessInstanceKey": key(root_key if root_key is not None else job.process_instance_key),
        "businessId": None,
        "priority": 0,
        # Only for workers that asked: answers carrying it are checked against the current activation.
        "jobLeaseToken": job.lease_token if with_lease else None,
    }


def job(j: Job, tenant_id: str, root_key: int | None) -> dict[str, Any]:
    state = JOB_STATES.get(j.state, "CREATED")
    return {
        "customHeaders": j.custom_headers,
        "deadline": date(j.deadline) if j.state == Job.State.ACTIVATED else None,
        "deniedReason": None,
        "elementId": j.element_id,
        "elementInstanceKey": key(j.element_instance_key),
        "endTime": None,
        "errorCode": None,
        "errorMessage": j.error_message or None,
        "hasFailedWithRetriesLeft": bool(j.error_message) and j.retries > 0,
        "isDenied": None,
        "jobKey": key(j.key),
        "kind": j.kind,
        "listenerEventType": j.listener_event_type,
        "processDefinitionId": j.bpmn_process_id,
        "processDefinitionKey": key(j.process_definition_key),
        "processInstanceKey": key(j.process_instance_key),
        "rootProcessInstanceKey": key(root_key if root_key is not None else j.process_instance_key),
        "businessId": None,
        "retries": j.retries,
        "state": state,
        "tenantId": tenant_id,
        "type": j.type,
        "worker": j.worker,
        "creationTime": date(j.created_at),
        "lastUpdateTime": None,
        "priority": 0,
    }


def user_task(t: UserTask, tenant_id: str, root_key: int | None) -> dict[str, Any]:
    return {
        "name": t.name or None,
        "state": t.state,
        "assignee": t.assignee or None,
        "elementId": t.element_id,
        "candidateGroups": list(t.candidate_groups or []),
        "candidateUsers": list(t.candidate_users or []),
        "processDefinitionId": t.bpmn_process_id,
        "creationDate": date(t.creation_date),
        "completionDate": date(t.completion_date),
        "followUpDate": date(t.follow_up_date),
        "dueDate": date(t.due_date),
        "tenantId": tenant_id,
        "externalFormReference": t.external_form_reference or None,
        "processDefinitionVersion": t.process_definition_version,
        "customHeaders": t.custom_headers or {},
        "priority": t.priority,
        "userTaskKey": key(t.key),
        "elementInstanceKey": key(t.element_instance_key),
        "processName": t.process_name or None,
        "processDefinitionKey": key(t.process_definition_key),
        "processInstanceKey": key(t.process_instance_key),
        "rootProcessInstanceKey": key(root_key if root_key is not None else t.process_instance_key),
        "businessId": t.business_key or None,
        "formKey": None,
        "tags": [],
    }


# -- decisions (DMN) ------------------------------------------------------------------------------
def decision_definition_ref(d: DecisionDefinition, tenant_id: str) -> dict[str, Any]:
    """A decision in a deployment response (DeploymentDecisionResult)."""
    return {
        "decisionDefinitionId": d.decision_id,
        "version": d.version,
        "name": d.name,
        "tenantId": tenant_id,
        "decisionRequirementsId": d.requirements.decision_requirements_id,
        "decisionDefinitionKey": key(d.key),
        "decisionRequirementsKey": key(d.requirements_id),
    }


def decision_requirements_ref(r: DecisionRequirements, tenant_id: str) -> dict[str, Any]:
    """A decision requirements graph in a deployment response (DeploymentDecisionRequirementsResult)."""
    return {
        "decisionRequirementsId": r.decision_requirements_id,
        "decisionRequirementsName": r.name,
        "version": r.version,
        "resourceName": r.resource_name,
        "tenantId": tenant_id,
        "decisionRequirementsKey": key(r.key),
    }


def decision_definition(d: DecisionDefinition, tenant_id: str) -> dict[str, Any]:
    r = d.requirements
    return {
        "decisionDefinitionId": d.decision_id,
        "decisionDefinitionKey": key(d.key),
        "decisionRequirementsId": r.decision_requirements_id,
        "decisionRequirementsKey": key(r.key),
        "decisionRequirementsName": r.name,
        "decisionRequirementsVersion": r.version,
        "name": d.name,
        "tenantId": tenant_id,
        "version": d.version,
    }


def decision_requirements(r: DecisionRequirements, tenant_id: str) -> dict[str, Any]:
    return {
        "decisionRequirementsId": r.decision_requirements_id,
        "decisionRequirementsKey": key(r.key),
        "decisionRequirementsName": r.name,
        "resourceName": r.resource_name,
        "tenantId": tenant_id,
        "version": r.version,
    }


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decision_instance(di: DecisionInstance, tenant_id: str, detail: bool = False) -> dict[str, Any]:
    d = di.decision
    out = {
        "businessId": di.business_id or None,
        "decisionDefinitionId": d.decision_id,
        "decisionDefinitionKey": key(d.key),
        "decisionDefinitionName": d.name,
        "decisionDefinitionType": d.decision_type,
        "decisionDefinitionVersion": d.version,
        "decisionEvaluationInstanceKey": f"{di.evaluation_key}-{di.index}",
        "decisionEvaluationKey": key(di.evaluation_key),
        "elementInstanceKey": key(di.element_instance_key),
        "evaluationDate": date(di.evaluation_date),
        "evaluationFailure": di.evaluation_failure or None,
        "processDefinitionKey": key(di.process_definition_key),
        "processInstanceKey": key(di.process_instance_key),
        "result": _json_text(di.result),
        "rootDecisionDefinitionKey": key(di.root_decision_key),
        "rootProcessInstanceKey": key(di.root_process_instance_key),
        "state": di.state,
        "tenantId": tenant_id,
    }
    if detail:
        out["evaluatedInputs"] = di.inputs
        out["matchedRules"] = di.matched_rules
    return out


def decision_evaluation(definition: DecisionDefinition, evaluation_key: int, output: Any,
                        rows: list[DecisionInstance], tenant_id: str) -> dict[str, Any]:
    """The answer of POST /v2/decision-definitions/evaluation (EvaluateDecisionResult)."""
    r = definition.requirements
    return {
        "decisionDefinitionId": definition.decision_id,
        "decisionDefinitionKey": key(definition.key),
        "decisionDefinitionName": definition.name,
        "decisionDefinitionVersion": definition.version,
        "decisionEvaluationKey": key(evaluation_key),
        "decisionInstanceKey": key(evaluation_key),
        "decisionRequirementsId": r.decision_requirements_id,
        "decisionRequirementsKey": key(r.key),
        "evaluatedDecisions": [_evaluated(row, row.decision, tenant_id) for row in rows],
        "failedDecisionDefinitionId": None,
        "failureMessage": None,
        "output": _json_text(output),
        "tenantId": tenant_id,
    }


def _evaluated(row: DecisionInstance, d: DecisionDefinition, tenant_id: str) -> dict[str, Any]:
    return {
        "decisionDefinitionId": d.decision_id,
        "decisionDefinitionName": d.name,
        "decisionDefinitionVersion": d.version,
        "decisionDefinitionType": d.decision_type,
        "output": _json_text(row.result),
        "tenantId": tenant_id,
        "matchedRules": row.matched_rules,
        "evaluatedInputs": row.inputs,
        "decisionDefinitionKey": key(d.key),
        "decisionEvaluationInstanceKey": f"{row.evaluation_key}-{row.index}",
    }
