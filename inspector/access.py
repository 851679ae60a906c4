"""Who may use the Inspector: people whose role in the current tenant holds the READ right
(engine.rights: operators, integrators, admins) and superusers; repairs need OPERATE.

The current tenant is the one the person chose in the Tasklist (kept in the session), else their
first. A member without the operator role gets 403; rows of other tenants are 404 (keys do not leak).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from engine import rights
from engine.errors import NotFound
from engine.rights import Right
from flowsync.models import Membership, Tenant
from flowsync.sessions import SESSION_TENANT, SESSION_TZ, zone


@dataclass
class InspectorContext:
    tenant: Tenant
    tenants: list[Tenant]  # the tenants this person may inspect
    actor: str
    tz: zoneinfo.ZoneInfo
    role: str = Membership.Role.ADMIN  # the person's role in `tenant` (admin for superusers)
    user: Any = None  # the person (their per-process grants are read only when a repair needs them)

    def require(self, right: Right, what: str, process_id: str | None = None) -> None:
        """Forbidden (shown as a message, nothing changed) unless the role grants `right`, or a grant does on
        `process_id` (the process of the instance, incident or job acted on)."""
        if process_id is None or rights.allows(self.role, right):
            rights.require(self.role, right, what)
        else:
            grants = rights.grants_of(self.user, [self.tenant.pk]).get(self.tenant.pk, {})
            rights.require_on(rights.Rights(self.role, grants), right, process_id, what)

    @property
    def tenant_ids(self) -> list[int]:
        return [self.tenant.pk]


def operator_tenants(user: Any) -> list[Tenant]:
    """The tenants this person may inspect (READ right)."""
    return rights.tenants_with(user, Right.READ)


def resolve(request: HttpRequest) -> InspectorContext | None:
    tenants = operator_tenants(request.user)
    chosen = request.session.get(SESSION_TENANT)
    tenant = next((t for t in tenants if t.pk == chosen), None)
    if tenant is None:
        if chosen is not None and not request.user.is_superuser and Membership.objects.filter(
            user=request.user, tenant_id=chosen
        ).exists():
            return None  # working in a tenant where this person is no operator
        if not tenants:
            return None
        tenant = tenants[0]
    tz = zone(request.session.get(SESSION_TZ)) or zoneinfo.ZoneInfo(settings.TIME_ZONE)
    role = rights.role_in(request.user, tenant.pk) or Membership.Role.MEMBER
    return InspectorContext(tenant, tenants, request.user.get_username(), tz, role, request.user)


def inspector_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; operators only (403); sets ``request.inspector``; NotFound from a query → 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ctx = resolve(request)
        if ctx is None:
            switchable = operator_tenants(request.user)
            return render(request, "inspector/forbidden.html", {"switchable": switchable}, status=403)
        request.inspector = ctx  # type: ignore[attr-defined]
        try:
            with timezone.override(ctx.tz):
                return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.detail) from exc

    return wrapper
