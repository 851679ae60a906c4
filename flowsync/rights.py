"""Who may do what in a tenant: the role → rights table every surface reads (API, Tasklist,
Inspector, admin). It lives in the tenancy layer so the admin of tenants and API keys can use it;
engine.rights adds the engine-side checks (refusals as Forbidden, who may complete a task).

A person's rights come from their role in the tenant (``Membership.role``); an API key's or an
OAuth client's from the key's role (``ApiKey.role``, integrator unless set otherwise). Platform
superusers hold every right in every tenant. Surfaces ask ``allows(role, right)`` (or the
helpers below) and refuse with a 403 problem / a clear page; rows of other tenants stay 404.

| right          | member | auditor | operator | integrator | admin |
| -------------- | ------ | ------- | -------- | ---------- | ----- |
| WORK_TASKS     | yes    |         | yes      | yes        | yes   |
| MANAGE_TASKS   |        |         | yes      | yes        | yes   |
| READ           |        | yes     | yes      | yes        | yes   |
| START          |        |         | yes      | yes        | yes   |
| OPERATE        |        |         | yes      | yes        | yes   |
| DEPLOY         |        |         |          | yes        | yes   |
| WORK_JOBS      |        |         |          | yes        | yes   |
| ADMINISTER     |        |         |          |            | yes   |

Per-process grants (django-guardian on ``ProcessAccess``, one row per process id of a tenant) add
READ, START, OPERATE or WORK_TASKS on that one process id, all its versions, to a member of the
tenant: ``Rights`` (``rights_of``) is the role plus those grants, and every surface asks it
``allows_on(right, process_id)`` for a process-bound act and ``processes(right)`` to scope a list.
A grant never reaches another tenant, nor acts that are not bound to one process (deploy,
messages, signals, API keys).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.db import transaction

from flowsync.audit import record
from flowsync.models import Membership, ProcessAccess, ProcessGroupGrant, ProcessUserGrant, Role, Tenant


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
    Role.AUDITOR: frozenset({Right.READ}),
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


# -- per-process grants (django-guardian) -----------------------------------------------------------

PERMISSION_OF: dict[Right, str] = {
    Right.READ: "read_process",
    Right.START: "start_process",
    Right.OPERATE: "operate_process",
    Right.WORK_TASKS: "work_process_tasks",
}
RIGHT_OF = {codename: right for right, codename in PERMISSION_OF.items()}
Grants = Mapping[Right, frozenset[str]]  # right → the process ids it is granted on


@dataclass(frozen=True)
class Rights:
    """What one principal may do in one tenant: its role's rights everywhere, plus per-process grants."""

    role: str | None
    grants: Grants = field(default_factory=dict)

    def allows(self, right: Right) -> bool:
        """Tenant-wide (every process, and acts bound to none)."""
        return allows(self.role, right)

    def allows_on(self, right: Right, process_id: str) -> bool:
        return self.allows(right) or process_id in self.grants.get(right, ())

    def anywhere(self, right: Right) -> bool:
        """Tenant-wide or on at least one process (lets a surface in; each act then checks its process)."""
        return self.allows(right) or bool(self.grants.get(right))

    def processes(self, right: Right) -> frozenset[str] | None:
        """The process ids a list is limited to; None: no limit (the role grants it tenant-wide)."""
        return None if self.allows(right) else self.grants.get(right, frozenset())


def grants_of(user: Any, tenant_pks: list[int]) -> dict[int, dict[Right, frozenset[str]]]:
    """Tenant pk → right → process ids granted to the user or one of their groups (one indexed query)."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser or not tenant_pks:
        return {}
    found: dict[int, dict[Right, set[str]]] = {}
    columns = ("content_object__tenant_id", "permission__codename", "content_object__process_id")
    mine = ProcessUserGrant.objects.filter(user=user, content_object__tenant_id__in=tenant_pks).values_list(*columns)
    groups = ProcessGroupGrant.objects.filter(group__user=user, content_object__tenant_id__in=tenant_pks)
    for tenant_pk, codename, process_id in mine.union(groups.values_list(*columns), all=True):  # one query
        if codename in RIGHT_OF:
            found.setdefault(tenant_pk, {}).setdefault(RIGHT_OF[codename], set()).add(process_id)
    return {pk: {r: frozenset(p) for r, p in by.items()} for pk, by in found.items()}


def rights_of(user: Any, tenant_pk: int) -> Rights:
    """The user's rights in one tenant; grants count only for members of that tenant."""
    role = role_in(user, tenant_pk)
    if role is None:
        return Rights(None)
    return Rights(role, grants_of(user, [tenant_pk]).get(tenant_pk, {}))


def set_grant(tenant: Tenant, process_id: str, user: Any, right: Right, granted: bool, actor: str) -> bool:
    """Grant (or take back) `right` on one process id to a member of the tenant; audited; False if unchanged."""
    if right not in PERMISSION_OF:
        raise ValueError(f"'{right}' cannot be granted per process")
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValueError(f"{user.get_username()} is not a member of tenant '{tenant.tenant_id}'")
    permission = Permission.objects.get(content_type__app_label="flowsync", codename=PERMISSION_OF[right])
    with transaction.atomic():
        target, _ = ProcessAccess.objects.get_or_create(tenant=tenant, process_id=process_id)
        if granted:
            changed = ProcessUserGrant.objects.get_or_create(user=user, permission=permission,
                                                             content_object=target)[1]
        else:
            changed = bool(ProcessUserGrant.objects.filter(user=user, permission=permission,
                                                           content_object=target).delete()[0])
        if changed:
            record(tenant, actor, "rights.grant" if granted else "rights.revoke", target_type="process",
                   target_key=process_id, after={"user": user.get_username(), "right": str(right)})
    return changed
