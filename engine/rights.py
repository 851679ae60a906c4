"""Who may do what in a tenant: the one rule every surface calls (API, Tasklist, Inspector, admin).

The role → rights table (and who holds which role where) is flowsync.rights, re-exported here;
this module adds the engine-side checks: refusals as Forbidden (a 403 problem on the API, a
message on the pages) and who may complete a user task.
"""

from __future__ import annotations

from engine.errors import Forbidden
from engine.models import Incident, Job, ProcessInstance
from flowsync.rights import (
    PERMISSION_OF,
    ROLE_RIGHTS,
    SEE_ALL_TASKS_PERMISSION,
    Right,
    Rights,
    allows,
    grants_of,
    manages_tasks,
    rights_of,
    role_in,
    set_grant,
    tenant_pks_with,
    tenant_roles,
    tenants_with,
)

__all__ = ["PERMISSION_OF", "ROLE_RIGHTS", "SEE_ALL_TASKS_PERMISSION", "Right", "Rights", "allows",
           "check_assignment", "check_completion", "grants_of", "manages_tasks", "process_of", "require",
           "require_on", "rights_of", "role_in", "set_grant", "tenant_pks_with", "tenant_roles", "tenants_with"]


def require(role: str | None, right: Right, what: str) -> None:
    """Raise Forbidden (403) unless `role` grants `right`; `what` names the refused act for the message."""
    if not allows(role, right):
        raise Forbidden(f"the role '{role or 'none'}' may not {what} in this tenant")


def require_on(rights: Rights, right: Right, process_id: str | None, what: str) -> None:
    """Raise Forbidden (403) unless `rights` grant `right` tenant-wide or on this process id (None: the target
    was not found; the action that follows says so)."""
    if rights.allows(right) or process_id is None or rights.allows_on(right, process_id):
        return
    raise Forbidden(f"the role '{rights.role or 'none'}' may not {what} of process '{process_id}' in this tenant")


def process_of(tenant_pks: list[int], *, instance: int | None = None, incident: int | None = None,
               job: int | None = None) -> str | None:
    """The process id an instance, incident or job belongs to (None if not found): what a grant is checked on."""
    if instance is not None:
        return (ProcessInstance.objects.filter(tenant_id__in=tenant_pks, key=instance)
                .values_list("definition__bpmn_process_id", flat=True).first())
    model, key = (Incident, incident) if incident is not None else (Job, job)
    return model.objects.filter(tenant_id__in=tenant_pks, key=key).values_list("bpmn_process_id", flat=True).first()


def check_completion(assignee: str, as_user: str | None) -> None:
    """A person completes only a task they hold. `as_user=None`: the caller may manage tasks (MANAGE_TASKS)."""
    if as_user is None or assignee == as_user:
        return
    holder = f"assigned to {assignee}" if assignee else "not assigned to you"
    raise Forbidden(f"This task is {holder}: claim it before completing it.", assignee=assignee)


def check_assignment(manages: bool, me: str, assignee: str, holder: str, offered: bool) -> bool:
    """May `me` make `assignee` hold a task now held by `holder` (offered to me or not)? Returns whether an
    existing assignee may be overridden: with MANAGE_TASKS yes; otherwise a person only claims, for
    themself, a task offered to them or already theirs (as in the Tasklist)."""
    if manages:
        return True
    if assignee != me or holder not in ("", me) or not (offered or holder == me):
        raise Forbidden("without the right to manage tasks you may only claim a task offered to you")
    return False
