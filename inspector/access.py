"""Who may use the Inspector: people whose role in the current tenant holds the READ right
(engine.rights: auditors, operators, integrators, admins) and superusers; repairs need OPERATE.
A member with a per-process READ grant (flowsync.rights.Rights) gets in too, limited to those
processes: the instance list shows only their instances, an instance page (and its repairs) of
another process is 404, and every page not listed in GRANT_PAGES is refused (fail closed).

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
from django.db.models import QuerySet
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
    processes: frozenset[str] | None = None  # READ by a grant only: the process ids they may see; None: all

    def scoped(self, qs: QuerySet, process_field: str) -> QuerySet:
        """`qs` limited to the processes this person may read (unchanged when the role reads the tenant)."""
        return qs if self.processes is None else qs.filter(**{f"{process_field}__in": sorted(self.processes)})

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
    """The tenants this person may inspect: READ by role, or by a grant on at least one process."""
    roles = rights.tenant_roles(user)
    by_role = {pk for pk, role in roles.items() if rights.allows(role, Right.READ)}
    others = [pk for pk in roles if pk not in by_role]  # grants are read only for these (no query otherwise)
    by_grant = {pk for pk, granted in rights.grants_of(user, others).items() if granted.get(Right.READ)}
    return list(Tenant.objects.filter(pk__in=by_role | by_grant).order_by("name", "tenant_id"))


# The pages a grant-only reader may open, and what the URL's `key` is (checked against the grant):
# an instance's pages and repairs, an incident's retry, the instance list (scoped by the view).
GRANT_PAGES: dict[str, str | None] = {
    "instance_list": None, "instance_detail": "instance", "instance_live": "instance",
    "instance_element": "instance", "instance_diagram": "instance", "instance_cancel": "instance",
    "instance_variable": "instance", "instance_modify": "instance", "incident_retry": "incident",
}


def _granted_page(ctx: InspectorContext, page: str, key: int | None) -> bool | None:
    """For a grant-only reader: True (may open), False (refused: 403), None (the key's process is not theirs: 404)."""
    if page not in GRANT_PAGES:
        return False
    kind = GRANT_PAGES[page]
    if kind is None:
        return True
    process = rights.process_of(ctx.tenant_ids, **{kind: key})
    return True if process in (ctx.processes or ()) else None


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
    processes = None  # the role reads the whole tenant; else the grants say which processes
    if not rights.allows(role, Right.READ):
        grants = rights.grants_of(request.user, [tenant.pk]).get(tenant.pk, {})
        processes = rights.Rights(role, grants).processes(Right.READ)
    return InspectorContext(tenant, tenants, request.user.get_username(), tz, role, request.user, processes)


def inspector_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; operators only (403); sets ``request.inspector``; NotFound from a query → 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ctx = resolve(request)
        if ctx is None:
            switchable = operator_tenants(request.user)
            return render(request, "inspector/forbidden.html", {"switchable": switchable}, status=403)
        if ctx.processes is not None:
            allowed = _granted_page(ctx, view.__name__, kwargs.get("key"))
            if allowed is None:
                raise Http404("not found")
            if not allowed:
                return render(request, "inspector/forbidden.html", {"switchable": [], "processes": ctx.processes},
                              status=403)
        request.inspector = ctx  # type: ignore[attr-defined]
        try:
            with timezone.override(ctx.tz):
                return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.detail) from exc

    return wrapper
