"""Tenant scoping of the Django admin for staff who are not superusers.

A staff user sees rows of the tenants where their role grants READ (operators, integrators,
admins) and changes tenants, memberships and API keys only where it grants ADMINISTER (tenant
admins). Foreign-key choices and the tenant filter offer only those tenants, so neither a
changelist, a form nor a filter sidebar reveals another tenant. Superusers see everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from flowsync.models import Tenant
from flowsync.rights import Right, allows, grants_of, tenant_roles


def scoped_pks(request: HttpRequest, right: Right) -> list[int] | None:
    """The tenant pks this staff user holds `right` in; None for a superuser (every tenant)."""
    user = request.user
    if user.is_superuser:  # type: ignore[union-attr]
        return None
    cache = request.__dict__.setdefault("_flowsync_admin_scope", {})
    if right not in cache:
        # One memberships query per request, whatever the number of rights the page asks about (the
        # sidebar alone asks READ, ADMINISTER and DEPLOY: the connector secrets' edit right).
        if "roles" not in cache:
            cache["roles"] = tenant_roles(user)
        cache[right] = [pk for pk, role in cache["roles"].items() if allows(role, right)]
    return cache[right]


def granted(request: HttpRequest, *wanted: Right) -> dict[int, frozenset[str]]:
    """Tenant pk → process ids this staff user was granted one of `wanted` on (django-guardian, flowsync.rights)."""
    cache = request.__dict__.setdefault("_flowsync_admin_grants", {})
    if "all" not in cache:
        user = request.user
        cache["all"] = grants_of(user, list(tenant_roles(user))) if not user.is_superuser else {}  # type: ignore[union-attr]
    found = {pk: frozenset().union(*(by.get(r, frozenset()) for r in wanted)) for pk, by in cache["all"].items()}
    return {pk: processes for pk, processes in found.items() if processes}


def _path(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part, None)
    return obj


class TenantFilter(admin.SimpleListFilter):
    """The tenant filter, listing only the tenants this user may see (not every tenant's name)."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        pks = scoped_pks(request, Right.READ)
        tenants = Tenant.objects.all() if pks is None else Tenant.objects.filter(pk__in=pks)
        return [(str(t.pk), t.tenant_id) for t in tenants.order_by("tenant_id")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(tenant_id=int(value))
        return queryset


class TenantScopedAdmin(admin.ModelAdmin):
    """Rows through `tenant_path` (a Tenant FK, or "pk" for Tenant itself); see the module docstring."""

    tenant_path = "tenant"
    # The right that lets a user change rows (engine tables are read-only for everyone).
    edit_right = Right.ADMINISTER
    # Rows that belong to one process (its process id's path): a per-process grant of one of
    # `process_rights` shows them too.
    process_path: str | None = None
    process_rights: tuple[Right, ...] = (Right.READ,)

    def _tenant_of(self, obj: Any) -> int | None:
        return obj.pk if self.tenant_path == "pk" else getattr(obj, f"{self.tenant_path}_id", None)

    def _in(self, request: HttpRequest, obj: Any, right: Right) -> bool:
        pks = scoped_pks(request, right)
        if pks is None or obj is None or self._tenant_of(obj) in pks:
            return True
        return bool(right == Right.READ and self.process_path and _path(obj, self.process_path)
                    in granted(request, *self.process_rights).get(self._tenant_of(obj), ()))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        pks = scoped_pks(request, Right.READ)
        if pks is None:
            return qs
        scope = Q(**{f"{self.tenant_path}__in": pks})
        if self.process_path:
            for tenant_pk, processes in granted(request, *self.process_rights).items():
                scope |= Q(**{self.tenant_path: tenant_pk, f"{self.process_path}__in": sorted(processes)})
        return qs.filter(scope)

    def get_list_filter(self, request: HttpRequest) -> Any:
        return [TenantFilter if f == "tenant" else f for f in super().get_list_filter(request)]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Tenant:
            pks = scoped_pks(request, self.edit_right)
            if pks is not None:
                kwargs["queryset"] = Tenant.objects.filter(pk__in=pks)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._in(request, obj, Right.READ)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._in(request, obj, self.edit_right)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._in(request, obj, self.edit_right)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        pks = scoped_pks(request, self.edit_right)
        return super().has_add_permission(request, *args) and (pks is None or bool(pks))
