"""Jobs, incidents and user tasks: the rows people and workers act on."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from engine.models import ElementInstance, Incident, Job, UserTask
from engine.queries.common import get_or_404


def jobs(tenant_ids: Iterable[int]) -> QuerySet[Job]:
    return Job.objects.filter(tenant_id__in=list(tenant_ids))


def get_job(tenant_ids: Iterable[int], key: int) -> Job:
    return get_or_404(jobs(tenant_ids), key, "job")


def incidents(tenant_ids: Iterable[int]) -> QuerySet[Incident]:
    return Incident.objects.filter(tenant_id__in=list(tenant_ids))


def get_incident(tenant_ids: Iterable[int], key: int) -> Incident:
    return get_or_404(incidents(tenant_ids), key, "incident")


def user_tasks(tenant_ids: Iterable[int]) -> QuerySet[UserTask]:
    return UserTask.objects.filter(tenant_id__in=list(tenant_ids))


def get_user_task(tenant_ids: Iterable[int], key: int) -> UserTask:
    return get_or_404(user_tasks(tenant_ids), key, "user task")


def listened_tasks(jobs: Iterable[Job]) -> dict[int, UserTask]:
    """The user tasks of task listener jobs, by job key (one query, only when there are such jobs)."""
    wanted = {j.element_instance_key: j.key for j in jobs if j.kind == Job.Kind.TASK_LISTENER}
    if not wanted:
        return {}
    found = {wanted[t.element_instance_key]: t
             for t in UserTask.objects.filter(element_instance_key__in=list(wanted)).exclude(state="CANCELED")}
    # An assignment or update under way: its action and changed attributes (the element instance's data).
    pending = [t.element_instance_key for t in found.values() if t.state in ("ASSIGNING", "UPDATING")]
    if pending:
        data = dict(ElementInstance.objects.filter(key__in=pending).values_list("key", "data"))
        for task in found.values():
            transition = (data.get(task.element_instance_key) or {}).get("transition")
            if transition:
                task.listener_transition = transition  # type: ignore[attr-defined]
    return found
