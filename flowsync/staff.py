"""Tenant admins in the Django admin: staff users who are not superusers.

A tenant admin is staff, a member with the admin role, and in the group below, which grants
the model permissions the admin pages need. What they see there is scoped to their tenants
(flowsync.admin / engine.admin: TenantScopedAdmin); platform superusers are made on purpose only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from flowsync.models import Membership, Role, Tenant
from flowsync.rights import PERMISSION_OF

TENANT_ADMINS_GROUP = "FlowSync tenant admins"
# Edit memberships and API keys of their tenants; read engine tables (the admin shows them read-only).
_EDIT = {"flowsync": ("membership", "apikey", "tenant", "processaccess")}
_VIEW_APPS = ("engine",)


def tenant_admins_group() -> Group:
    group, _ = Group.objects.get_or_create(name=TENANT_ADMINS_GROUP)
    wanted = Permission.objects.filter(
        Q(content_type__app_label="flowsync", content_type__model__in=_EDIT["flowsync"])
        & ~Q(codename__in=("add_tenant", "delete_tenant"))  # tenants are made by platform admins
        & ~Q(codename__in=list(PERMISSION_OF.values()))  # per-process rights are granted per object, never globally
        | Q(content_type__app_label__in=_VIEW_APPS, codename__startswith="view_")
        | Q(content_type__app_label="flowsync", codename="view_auditentry")  # the audit trail, read-only
        # Connector secrets are the one engine table tenant admins edit (values write-only; engine/secrets.py).
        | Q(content_type__app_label="engine", content_type__model="connectorsecret")
    )
    group.permissions.set(wanted)
    return group


def make_tenant_admin(user: Any, tenant: Tenant) -> None:
    """Staff, admin of `tenant`, with the admin-page permissions; never a superuser."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    membership, created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": Role.ADMIN})
    if not created and membership.role != Role.ADMIN:
        membership.role = Role.ADMIN
        membership.save(update_fields=["role"])
    user.groups.add(tenant_admins_group())
