from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.actions.jobs import update_job
from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, Incident, Job
from engine.store.commands import submit

NO_RETRIES = "JOB_NO_RETRIES"


def resolve_incident(tenant_ids: list[int], key: int, actor: str, now: datetime) -> None:
    """Mark an incident for resolution; the engine continues the instance from where it stopped."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(key=key, tenant_id__in=tenant_ids).first()
        if incident is None:
            raise NotFound(f"no incident with key {key}")
        if incident.state != Incident.State.ACTIVE:
            raise Conflict(f"incident {key} is {incident.state}")
        if incident.job_key is not None and incident.error_type == NO_RETRIES:
            retries = Job.objects.filter(key=incident.job_key).values_list("retries", flat=True).first()
            if not retries or retries <= 0:
                raise Conflict(
                    f"job {incident.job_key} has no retries left; update its retries (PATCH /v2/jobs/"
                    f"{incident.job_key}) before resolving the incident"
                )
        submit(
            incident.tenant_id,
            incident.process_instance_key,
            Command.Kind.RESOLVE_INCIDENT,
            {"incidentKey": str(key), **({"jobKey": str(incident.job_key)} if incident.job_key else {})},
            actor,
            now,
        )
        record(incident.tenant_id, actor, "incident.resolve", target_type="incident", target_key=key,
               instance_key=incident.process_instance_key, before={"state": incident.state}, now=now)


def retry_incident(tenant_ids: list[int], key: int, retries: int | None, actor: str, now: datetime) -> None:
    """Operate's "retry": resolve an incident; for a job that ran out of retries, first give it `retries`
    (None: 1, unless it has some left), so the engine activates the job again. One transaction."""
    if retries is not None and retries < 1:
        raise InvalidInput("retries must be at least 1")
    with transaction.atomic():
        incident = Incident.objects.filter(key=key, tenant_id__in=tenant_ids).first()
        # A missing or no longer active incident: resolve_incident refuses it (NotFound, Conflict).
        if (incident is not None and incident.state == Incident.State.ACTIVE and incident.job_key
                and incident.error_type == NO_RETRIES):
            if retries is None:
                left = Job.objects.filter(key=incident.job_key).values_list("retries", flat=True).first()
                retries = None if left and left > 0 else 1
            if retries is not None:
                update_job(tenant_ids, incident.job_key, retries, None, actor, now)
        resolve_incident(tenant_ids, key, actor, now)
