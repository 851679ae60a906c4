"""Who may do what in a tenant: the role → rights table every surface reads (API, Tasklist,
Inspector, admin). It lives in the tenancy layer so the admin of tenants and API keys can use it;
engine.rights adds the engine-side checks (refusals as Forbidden, who may complete a task).

A person's rights come from their role in the tenant (``Membership.role``); an API key's or an
OAuth client's from the key's role (``ApiKey.role``, integrator unless set otherwise). Platform
superusers hold every right in every tenant. Surfaces ask ``allows(role, right)`` (or the
helpers below) and refuse with a 403 problem / a clear page; rows of other tenants stay 404.

| right          | member | operator | integrator | admin |
| -------------- | ------ | -------- | ---------- | ----- |
| WORK_TASKS     | yes    | yes      | yes        | yes   |
| MANAGE_TASKS   |        | yes      | yes        | yes   |
| READ           |        | yes      | yes        | yes   |
| START          |        | yes      | yes        | yes   |
| OPERATE        |        | yes      | yes        | yes   |
| DEPLOY         |        |          | yes        | yes   |
| WORK_JOBS      |        |          | yes        | yes   |
| ADMINISTER     |        |          |            | yes   |
"""

from __future__ import annotations

import enum
from typing import Any

from flowsync.models import Membership, Role, Tenant


class Right(enum.StrEnum):
    WORK_TASKS = "work-tasks"  # see tasks offered or assigned to oneself, claim them, complete one's own
    MANAGE_TASKS = "manage-tasks"  # see every task, (re)assign anyone's, complete without holding the task
    READ = "read"  # instances, definitions, variables, elements, incidents, jobs (Inspector, API searches)
    START = "start"  # create instances, publish / correlate messages, broadcast signals
    OPERATE = "operate"  # cancel, set variables, resolve incidents, change job retries
    DEPLOY = "deploy"  # deploy process definitions and forms
    WORK_JOBS = "work-jobs"  # activate, complete, fail jobs and throw BPMN errors (job workers)
    ADMINISTER = "administer"  # the tenant's memberships and API keys (Django admin)


_OPERATOR = frozenset({Right.WORK_TASKS, Right.MANAGE_TASKS, Right.READ, Right.START, Right.OPERATE})
ROLE_RIGHTS: dict[str, frozenset[Right]] = {
    Role.MEMBER: frozenset({Right.WORK_TASKS}),
    Role.OPERATOR: _OPERATOR,
    Role.INTEGRATOR: _OPERATOR | {Right.DEPLOY, Right.WORK_JOBS},
    Role.ADMIN: frozenset(Right),
}


def allows(role: str | None, right: Right) -> bool:
    return right in ROLE_RIGHTS.get(role or "", frozenset())


# The older per-user grant "see all open tasks" (a Django model permission, given in the admin to a
# user or group): it counts as MANAGE_TASKS in each of the person's tenants, on every surface.
SEE_ALL_TASKS_PERMISSION = "engine.view_usertask"


def manages_tasks(user: Any, role: str | None) -> bool:
    """May see every task of the tenant, (re)assign anyone's and give any back: MANAGE_TASKS or the grant."""
    return allows(role, Right.MANAGE_TASKS) or bool(user.has_perm(SEE_ALL_TASKS_PERMISSION))


def tenant_roles(user: Any) -> dict[int, str]:
    """Tenant pk → the user's role there; a superuser is admin of every tenant."""
    if not getattr(user, "is_authenticated", False):
        return {}
    if user.is_superuser:
        return {pk: Role.ADMIN for pk in Tenant.objects.values_list("pk", flat=True)}
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


def role_in(user: Any, tenant_pk: int) -> str | None:
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    return Membership.objects.filter(user=user, tenant_id=tenant_pk).values_list("role", flat=True).first()


def tenant_pks_with(user: Any, right: Right) -> list[int]:
    return [pk for pk, role in tenant_roles(user).items() if allows(role, right)]


def tenants_with(user: Any, right: Right) -> list[Tenant]:
    """The tenants in which this user holds `right`, by name."""
    return list(Tenant.objects.filter(pk__in=tenant_pks_with(user, right)).order_by("name", "tenant_id"))
