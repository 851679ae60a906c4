"""`{% operator_dashboard as board %}` for the admin's index (engine.queries.dashboard, scoped to the user)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from engine.queries.dashboard import Dashboard, dashboard
from engine.rights import Right, tenant_pks_with

register = template.Library()


@register.simple_tag(takes_context=True)
def operator_dashboard(context: Any) -> Dashboard | None:
    user = context["request"].user
    if not user.is_authenticated:
        return None
    tenant_ids = None if user.is_superuser else tenant_pks_with(user, Right.READ)
    if tenant_ids == []:
        return None
    return dashboard(tenant_ids, timezone.now())
