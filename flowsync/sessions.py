"""What a browser session remembers for every page surface: the current tenant and time zone.

The Tasklist and the Inspector share these keys, so a person who switches tenant in one
finds the same tenant in the other.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable

from django.http import HttpRequest

from flowsync.models import Tenant

SESSION_TENANT = "tasklist.tenant"  # name kept: existing sessions carry it
SESSION_TZ = "tasklist.tz"


def zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The time zone of that IANA name, None if it is not one."""
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def switch_tenant(request: HttpRequest, allowed: Iterable[Tenant], wanted: str) -> Tenant | None:
    """Make `wanted` (a tenant id) the session's tenant if it is one of `allowed`; the tenant, else None."""
    tenant = next((t for t in allowed if t.tenant_id == wanted), None)
    if tenant is not None:
        request.session[SESSION_TENANT] = tenant.pk
    return tenant
