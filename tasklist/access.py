"""Who is asking: the signed-in person, their tenants, the current tenant and time zone.

Every Tasklist view goes through ``tasklist_view``: it requires a login, picks the current
tenant (kept in the session, always one of the person's memberships), builds the
``Viewer`` the read queries scope by, and renders in the person's time zone.

"See all open tasks" comes with the MANAGE_TASKS right of the person's role (engine.rights:
operators, integrators, admins) or with Django's ``engine.view_usertask`` model permission (given
to a user or one of their groups in the admin); it never crosses tenants.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from engine.queries.tasks import Viewer
from engine.rights import Right, allows, grants_of, manages_tasks
from flowsync.models import Membership, Tenant
from flowsync.sessions import SESSION_TENANT, SESSION_TZ, zone


@dataclass
class TasklistContext:
    tenant: Tenant
    tenants: list[Tenant]
    viewer: Viewer
    tz: zoneinfo.ZoneInfo
    tz_chosen: bool  # False until the person (or their browser) told us their zone
    role: str = Membership.Role.MEMBER  # the person's role in the current tenant

    @property
    def is_operator(self) -> bool:
        """May use the Inspector in this tenant (its READ right; superusers everywhere)."""
        return allows(self.role, Right.READ)

    @property
    def tenant_ids(self) -> list[int]:
        return [self.tenant.pk]

    @property
    def username(self) -> str:
        return self.viewer.username


def resolve(request: HttpRequest) -> TasklistContext | None:
    user = request.user
    memberships = list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name"))
    if not memberships:
        return None
    chosen = request.session.get(SESSION_TENANT)
    current = next((m for m in memberships if m.tenant_id == chosen), memberships[0])
    tenants, tenant = [m.tenant for m in memberships], current.tenant
    groups = tuple(sorted(user.groups.values_list("name", flat=True)))  # type: ignore[union-attr]
    viewer = Viewer(
        tenant_id=tenant.pk,
        username=user.get_username(),
        groups=groups,
        can_see_all=manages_tasks(user, current.role),
        processes=grants_of(user, [tenant.pk]).get(tenant.pk, {}).get(Right.WORK_TASKS, frozenset()),
        works=allows(current.role, Right.WORK_TASKS) or user.is_superuser,  # type: ignore[union-attr]
    )
    tz = zone(request.session.get(SESSION_TZ))
    return TasklistContext(tenant, tenants, viewer, tz or zoneinfo.ZoneInfo(settings.TIME_ZONE), tz is not None,
                           current.role)


def tasklist_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; sets ``request.tasklist``; renders in the person's time zone."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ctx = resolve(request)
        if ctx is None:
            return render(request, "tasklist/no_tenant.html", status=403)
        request.tasklist = ctx  # type: ignore[attr-defined]
        with timezone.override(ctx.tz):
            return view(request, *args, **kwargs)

    return wrapper
