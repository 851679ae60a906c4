"""Credential checks shared by every way in: API key secrets and user passwords.

User passwords are PBKDF2 hashes, far too slow to check on every API request, so a
successful check is remembered in-process for a short while, keyed by a hash of the
username, the password and the stored hash (a password change invalidates it at once).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from flowsync.models import DEFAULT_TENANT_ID, ApiKey, Membership, Role, Tenant
from flowsync.rights import Grants, Right, allows, grants_of, manages_tasks

PASSWORD_CACHE_SECONDS = 60.0
PASSWORD_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Identity:
    """A verified caller: its name, kind, default tenant, every tenant it may use (pk → tenantId),
    its role in each (pk → Role; what a role may do is engine.rights) and, for a user, their groups."""

    name: str
    kind: str  # "api-key" | "user" | "oauth" | "anonymous"
    tenant: Tenant
    tenants: dict[int, str]
    roles: dict[int, str]
    groups: tuple[str, ...] = ()
    # Tenants where this caller manages tasks (flowsync.rights.manages_tasks: role or the see-all grant).
    task_manager_tenants: frozenset[int] = frozenset()
    # A user's per-process grants (flowsync.rights.grants_of): tenant pk → right → process ids.
    grants: Mapping[int, Grants] = field(default_factory=dict)


class _PasswordCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, float] = {}

    def hit(self, digest: str) -> bool:
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires < time.monotonic():
                del self._entries[digest]
                return False
            return True

    def remember(self, digest: str) -> None:
        ttl = float(getattr(settings, "FLOWSYNC_PASSWORD_CACHE_SECONDS", PASSWORD_CACHE_SECONDS))
        with self._lock:
            if len(self._entries) >= PASSWORD_CACHE_SIZE:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v > now}
                if len(self._entries) >= PASSWORD_CACHE_SIZE:
                    self._entries.clear()
            self._entries[digest] = time.monotonic() + ttl

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


password_cache = _PasswordCache()


def touch_api_key(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        # Coarse on purpose: one write a minute per key, not one per request.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def api_key_identity(key: ApiKey, kind: str = "api-key") -> Identity:
    return Identity(name=key.client_id, kind=kind, tenant=key.tenant, tenants={key.tenant_id: key.tenant.tenant_id},
                    roles={key.tenant_id: key.role},
                    task_manager_tenants=frozenset({key.tenant_id}) if allows(key.role, Right.MANAGE_TASKS)
                    else frozenset())


KEY_CACHE_SECONDS = 30.0
# How long a process trusts what it last read of a key's revocation, secret and tenant suspension.
# Re-reading them on every request was a statement per request (two per process instance on the
# job path). A change made in this process (flowsync.tenancy) counts at once; one made elsewhere
# (another web process, the CLI, another machine) within this many seconds. 0: read every time.
DEFAULT_RECHECK_SECONDS = 1.0
# client_id → [expires, ApiKey with its tenant, liveness read until]. Saves the ORM's ~1.5 ms a request.
_keys: dict[str, list] = {}  # type: ignore[type-arg]


def forget_keys() -> None:
    """Drop this process's cached keys (a key was revoked or rotated, a tenant suspended)."""
    _keys.clear()


def check_api_key(client_id: str, secret: str) -> ApiKey | None:
    """The live (not revoked) API key with this id and secret, or None."""
    if "\x00" in client_id or len(client_id) > 64:
        return None
    now = time.monotonic()
    cached = _keys.get(client_id)
    if cached is not None and cached[0] > now:
        key = cached[1]
        if cached[2] <= now:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT k.secret_hash, k.revoked_at, t.suspended FROM flowsync_apikey k"
                    " JOIN flowsync_tenant t ON t.id = k.tenant_id WHERE k.id = %s",
                    [key.pk],
                )
                row = cur.fetchone()
            if row is None:
                _keys.pop(client_id, None)
                return None
            key.secret_hash, key.revoked_at, key.tenant.suspended = row  # suspension counts too, like revocation
            cached[2] = now + float(getattr(settings, "FLOWSYNC_API_KEY_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))
    else:
        key = ApiKey.objects.select_related("tenant").filter(client_id=client_id).first()
        if key is None:
            return None
        if len(_keys) > 4096:
            _keys.clear()
        recheck = float(getattr(settings, "FLOWSYNC_API_KEY_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))
        _keys[client_id] = [now + KEY_CACHE_SECONDS, key, now + recheck]
    if not key.check_secret(secret):
        return None
    touch_api_key(key)
    return key


def check_user(username: str, password: str) -> object | None:
    """The active user with this username and password, or None (PBKDF2 runs once a minute at most)."""
    if "\x00" in username or len(username) > 150:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user.password:
        # Hash anyway, as Django's ModelBackend does: an unknown name must take as long as a wrong
        # password, or the answer time tells which usernames exist.
        get_user_model()().set_password(password)
        return None
    digest = hashlib.sha256(f"{username}\0{password}\0{user.password}".encode()).hexdigest()
    if password_cache.hit(digest):
        return user
    if not user.check_password(password):
        return None
    password_cache.remember(digest)
    return user


def user_identity(user: object) -> Identity | None:
    """A user's tenants come from their memberships; None when they belong to none."""
    memberships = list(Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__tenant_id"))
    if not memberships:
        return None
    tenants = {m.tenant_id: m.tenant.tenant_id for m in memberships}
    # A superuser acts as admin in the tenants they are a member of (engine.rights).
    roles = {m.tenant_id: Role.ADMIN if user.is_superuser else m.role for m in memberships}  # type: ignore[attr-defined]
    groups = tuple(sorted(user.groups.values_list("name", flat=True)))  # type: ignore[attr-defined]
    managed = frozenset(pk for pk, role in roles.items() if manages_tasks(user, role))
    default = next((m.tenant for m in memberships if m.tenant.tenant_id == DEFAULT_TENANT_ID), memberships[0].tenant)
    return Identity(name=user.get_username(), kind="user", tenant=default, tenants=tenants,  # type: ignore[attr-defined]
                    roles=roles, groups=groups, task_manager_tenants=managed, grants=grants_of(user, list(tenants)))


def anonymous_identity() -> Identity | None:
    """Only when FLOWSYNC_API_ALLOW_ANONYMOUS is on: the default tenant, for local development."""
    if not getattr(settings, "FLOWSYNC_API_ALLOW_ANONYMOUS", False):
        return None
    tenant = Tenant.objects.filter(tenant_id=DEFAULT_TENANT_ID).first()
    if tenant is None:
        return None
    # Local development only: an anonymous caller is a full client of the default tenant.
    return Identity(name="anonymous", kind="anonymous", tenant=tenant, tenants={tenant.pk: tenant.tenant_id},
                    roles={tenant.pk: Role.INTEGRATOR}, task_manager_tenants=frozenset({tenant.pk}))
