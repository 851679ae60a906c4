"""API authentication, as the Camunda client offers it (CAMUNDA_AUTH_STRATEGY):

- BASIC: `Authorization: Basic …` with an API key's client id and secret, or a FlowSync
  user's username and password (the user's tenants are their memberships);
- OAUTH: `Authorization: Bearer …` with a token from `POST /oauth/token` (client credentials);
- NONE: no header at all, only when FLOWSYNC_API_ALLOW_ANONYMOUS is on (off by default);
  the caller then acts in the `<default>` tenant.

Every query of the API is scoped to `request.user.tenant_ids`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from rest_framework import authentication, exceptions

from engine import rights
from engine.rights import Right
from flowsync.auth import credentials, throttle
from flowsync.auth.tokens import verify_token
from flowsync.models import Tenant


@dataclass
class ApiPrincipal:
    """Who calls the API: an API key, a user, an OAuth client or (if allowed) nobody in particular."""

    name: str
    tenant: Tenant
    tenants: dict[int, str] = field(default_factory=dict)
    kind: str = "api-key"
    is_authenticated: bool = True
    roles: dict[int, str] = field(default_factory=dict)  # tenant pk → role (engine.rights)
    groups: tuple[str, ...] = ()
    task_manager_tenants: frozenset[int] = frozenset()  # flowsync.rights.manages_tasks, per tenant
    grants: Mapping[int, rights.Grants] = field(default_factory=dict)  # per-process grants, per tenant

    def rights_in(self, tenant_pk: int) -> rights.Rights:
        """Role and per-process grants in one tenant (engine.rights.require_on checks a process-bound act)."""
        return rights.Rights(self.roles.get(tenant_pk), self.grants.get(tenant_pk, {}))

    def may_somewhere(self, right: Right, tenant_pk: int | None = None) -> bool:
        """Holds `right` tenant-wide or on some process (views that check each act's process let it in)."""
        if tenant_pk is None:
            return any(self.may_somewhere(right, pk) for pk in self.roles)
        return self.may(right, tenant_pk) or self.rights_in(tenant_pk).anywhere(right)

    def may(self, right: Right, tenant_pk: int | None = None) -> bool:
        """Holds `right` in that tenant (in any of its tenants when None)."""
        if tenant_pk is None:
            return any(self.may(right, pk) for pk in self.roles)
        if right == Right.MANAGE_TASKS and tenant_pk in self.task_manager_tenants:
            return True
        return rights.allows(self.roles.get(tenant_pk), right)

    def narrowed(self, right: Right, per_process: bool = False) -> ApiPrincipal:
        """The same caller, seeing only the tenants where it holds `right` (so a row of a tenant where
        its role falls short is not found, and nothing there changes); `per_process`: or holds it on a
        process there (the view then checks each act's process)."""
        holds = self.may_somewhere if per_process else self.may
        keep = {pk: tid for pk, tid in self.tenant_ids_map().items() if holds(right, pk)}
        if keep == self.tenant_ids_map():
            return self
        tenant = self.tenant if self.tenant.pk in keep else Tenant.objects.get(pk=next(iter(keep)))
        return replace(self, tenant=tenant, tenants=keep)

    def tenant_ids_map(self) -> dict[int, str]:
        return dict(self.tenants) or {self.tenant.pk: self.tenant.tenant_id}

    @property
    def tenant_ids(self) -> list[int]:
        return list(self.tenants) or [self.tenant.pk]

    def tenant_id_of(self, pk: int) -> str:
        return self.tenants.get(pk) or self.tenant.tenant_id

    @property
    def actor(self) -> str:
        return f"{'api' if self.kind == 'api-key' else self.kind}:{self.name}"

    @classmethod
    def of(cls, identity: credentials.Identity) -> ApiPrincipal:
        return cls(name=identity.name, tenant=identity.tenant, tenants=dict(identity.tenants), kind=identity.kind,
                   roles=dict(identity.roles), groups=identity.groups,
                   task_manager_tenants=identity.task_manager_tenants, grants=identity.grants)


def _without_suspended(who: ApiPrincipal) -> ApiPrincipal:
    """A suspended tenant's callers are refused (403 problem); a person in several tenants keeps the others."""
    suspended = {who.tenant.pk} if who.tenant.suspended else set()
    if len(who.tenants) > 1:
        suspended |= set(Tenant.objects.filter(pk__in=list(who.tenants), suspended=True).values_list("pk", flat=True))
    if not suspended:
        return who
    keep = {pk: tid for pk, tid in who.tenant_ids_map().items() if pk not in suspended}
    if not keep:
        raise exceptions.PermissionDenied(f"tenant '{who.tenant.tenant_id}' is suspended")
    tenant = who.tenant if who.tenant.pk in keep else Tenant.objects.get(pk=next(iter(keep)))
    return replace(who, tenant=tenant, tenants=keep, roles={pk: r for pk, r in who.roles.items() if pk in keep})


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Basic (API key or user), Bearer (OAuth token) and, when enabled, anonymous access."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        result = self._authenticate(request)
        return None if result is None else (_without_suspended(result[0]), result[1])

    def _authenticate(self, request):  # type: ignore[no-untyped-def]
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            identity = credentials.anonymous_identity()
            return (ApiPrincipal.of(identity), None) if identity else None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(request, value.strip())
        if scheme == "bearer":
            key = verify_token(value.strip())
            if key is None:
                raise exceptions.AuthenticationFailed("the access token is invalid or expired; request a new one")
            return ApiPrincipal.of(credentials.api_key_identity(key, kind="oauth")), key
        raise exceptions.AuthenticationFailed("unsupported authorization scheme; use Basic or Bearer")

    def _basic(self, request, value: str):  # type: ignore[no-untyped-def]
        try:
            name, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("malformed Basic credentials") from None
        if not sep or not name:
            raise exceptions.AuthenticationFailed("malformed Basic credentials")
        # A right API key secret (32 random bytes: not guessable) always passes, so failed guesses
        # with a client id cannot lock an integration out; the throttle guards password sign-ins.
        key = credentials.check_api_key(name, secret)
        if key is not None:
            return ApiPrincipal.of(credentials.api_key_identity(key)), key
        ip = throttle.client_ip(request.META)
        verdict = throttle.check(name, ip)
        if not verdict.allowed:
            raise exceptions.Throttled(verdict.retry_after, "too many failed sign-ins; wait before trying again")
        user = credentials.check_user(name, secret)
        if user is None:
            throttle.failed(name, ip)
            raise exceptions.AuthenticationFailed("unknown API key or user, or wrong secret")
        identity = credentials.user_identity(user)
        if identity is None:
            raise exceptions.PermissionDenied(f"user '{name}' is not a member of any tenant")
        return ApiPrincipal.of(identity), user

    def authenticate_header(self, request) -> str:  # type: ignore[no-untyped-def]
        return 'Basic realm="flowsync"'
