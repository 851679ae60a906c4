"""Changes to tenants and their API keys, each written to the audit trail in the same transaction.

The admin, the CLI and anything else that suspends a tenant or issues, rotates or revokes a
key calls these; nobody updates those rows by hand. Each drops this process's cached API keys
(flowsync.auth.credentials) at once and again after commit; other processes re-read within
FLOWSYNC_API_KEY_RECHECK_SECONDS.
"""

from __future__ import annotations

import re
import secrets

from django.db import transaction
from django.utils import timezone

from flowsync.audit import record
from flowsync.auth.credentials import forget_keys
from flowsync.models import ApiKey, Role, Tenant, hash_secret

TENANT_ID = re.compile(r"^[\w.-]{1,31}$")


def create_tenant(tenant_id: str, name: str, actor: str) -> Tenant:
    """A new tenant (Camunda's tenant id rule: letters, digits, `_`, `.`, `-`, at most 31); audited."""
    if not TENANT_ID.match(tenant_id or ""):
        raise ValueError(f"'{tenant_id}' is not a valid tenant id (letters, digits, _ . -, at most 31)")
    with transaction.atomic():
        tenant, created = Tenant.objects.get_or_create(tenant_id=tenant_id, defaults={"name": name or tenant_id})
        if not created:
            raise ValueError(f"tenant '{tenant_id}' exists already")
        record(tenant, actor, "tenant.create", target_type="tenant", target_key=tenant_id, after={"name": tenant.name})
    return tenant


def _forget_keys_now_and_on_commit() -> None:
    # Now: this process's next request reads the change (inside this transaction, in tests too);
    # on commit: a request that re-cached the old state meanwhile does not keep it.
    forget_keys()
    transaction.on_commit(forget_keys)


def set_suspended(tenant: Tenant, suspended: bool, actor: str) -> bool:
    """Suspend (the API refuses its callers, no job activations, no timers) or resume; False if unchanged."""
    with transaction.atomic():
        changed = Tenant.objects.filter(pk=tenant.pk, suspended=not suspended).update(suspended=suspended)
        tenant.suspended = suspended
        _forget_keys_now_and_on_commit()
        if changed:
            record(tenant, actor, "tenant.suspend" if suspended else "tenant.resume", target_type="tenant",
                   target_key=tenant.tenant_id, before={"suspended": not suspended}, after={"suspended": suspended})
    return bool(changed)


def issue_key(tenant: Tenant, name: str, role: str, actor: str) -> tuple[ApiKey, str]:
    """A new key; the plain secret is returned once and never stored."""
    with transaction.atomic():
        key, secret = ApiKey.issue(tenant, name, role or Role.INTEGRATOR)
        record(tenant, actor, "api-key.create", target_type="api-key", target_key=key.client_id,
               after={"name": name, "role": key.role})
    return key, secret


def rotate_key(key: ApiKey, actor: str) -> str:
    """A new secret for the same client id (old Basic credentials and OAuth tokens stop working)."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        ApiKey.objects.filter(pk=key.pk).update(secret_hash=hash_secret(secret))
        key.secret_hash = hash_secret(secret)
        _forget_keys_now_and_on_commit()
        record(key.tenant_id, actor, "api-key.rotate", target_type="api-key", target_key=key.client_id)
    return secret


def revoke_key(key: ApiKey, actor: str) -> bool:
    """Revoke a live key; False when it was revoked already (re-running is harmless)."""
    with transaction.atomic():
        now = timezone.now()
        changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
        _forget_keys_now_and_on_commit()
        if changed:
            key.revoked_at = now
            record(key.tenant_id, actor, "api-key.revoke", target_type="api-key", target_key=key.client_id,
                   after={"revokedAt": now.isoformat()})
    return bool(changed)
