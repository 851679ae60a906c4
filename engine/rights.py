"""Who may do what in a tenant: the one rule every surface calls (API, Tasklist, Inspector, admin).

The role → rights table (and who holds which role where) is flowsync.rights, re-exported here;
this module adds the engine-side checks: refusals as Forbidden (a 403 problem on the API, a
message on the pages) and who may complete a user task.
"""

from __future__ import annotations

from engine.errors import Forbidden
from flowsync.rights import (
    ROLE_RIGHTS,
    SEE_ALL_TASKS_PERMISSION,
    Right,
    allows,
    manages_tasks,
    role_in,
    tenant_pks_with,
    tenant_roles,
    tenants_with,
)

__all__ = ["ROLE_RIGHTS", "SEE_ALL_TASKS_PERMISSION", "Right", "allows", "check_completion", "manages_tasks",
           "require", "role_in", "tenant_pks_with", "tenant_roles", "tenants_with"]


def require(role: str | None, right: Right, what: str) -> None:
    """Raise Forbidden (403) unless `role` grants `right`; `what` names the refused act for the message."""
    if not allows(role, right):
        raise Forbidden(f"the role '{role or 'none'}' may not {what} in this tenant")


def check_completion(assignee: str, as_user: str | None) -> None:
    """A person completes only a task they hold. `as_user=None`: the caller may manage tasks (MANAGE_TASKS)."""
    if as_user is None or assignee == as_user:
        return
    holder = f"assigned to {assignee}" if assignee else "not assigned to you"
    raise Forbidden(f"This task is {holder}: claim it before completing it.", assignee=assignee)
