"""Engine rows → Camunda 8 response bodies (every required field present; keys as strings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.models import Job, ProcessDefinition, ProcessInstance


def key(value: int | None) -> str | None:
    return None if value is None else str(value)


def date(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def tenant_id_of(obj: Any) -> str:
    return obj.tenant.tenant_id


def process_definition_ref(d: ProcessDefinition, tenant_id: str) -> dict[str, Any]:
    return {
        "processDefinitionId": d.bpmn_process_id,
        "processDefinitionVersion": d.version,
        "resourceName": d.resource_name,
        "tenantId": tenant_id,
        "processDefinitionKey": key(d.key),
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


def activated_job(job: Job, variables: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    return {
        "type": job.type,
        "processDefinitionId": job.bpmn_process_id,
        "processDefinitionVersion": job.process_definition_version,
        "elementId": job.element_id,
        "customHeaders": job.custom_headers,
        "worker": job.worker,
        "retries": job.retries,
        "deadline": int(job.deadline.timestamp() * 1000) if job.deadline else None,
        "variables": variables,
        "tenantId": tenant_id,
        "physicalTenantId": tenant_id,
        "jobKey": key(job.key),
        "processInstanceKey": key(job.process_instance_key),
        "processDefinitionKey": key(job.process_definition_key),
        "elementInstanceKey": key(job.element_instance_key),
        "kind": "BPMN_ELEMENT",
        "listenerEventType": "UNSPECIFIED",
        "userTask": None,
        "tags": [],
        "rootProcessInstanceKey": key(job.process_instance_key),
        "businessId": None,
        "priority": 0,
    }
