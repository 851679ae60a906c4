"""API authentication: an API key's client id and secret over HTTP Basic.

The tenant comes from the key; every query of the API is scoped to `request.user.tenant_ids`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from flowsync.models import ApiKey, Tenant


@dataclass
class ApiPrincipal:
    """Who calls the API: an API key (later also users and OAuth clients)."""

    name: str
    tenant: Tenant
    tenant_ids: list[int] = field(default_factory=list)
    is_authenticated: bool = True

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise exceptions.AuthenticationFailed("unsupported authorization scheme; use Basic with an API key")
        try:
            client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("malformed Basic credentials") from None
        key = ApiKey.objects.select_related("tenant").filter(client_id=client_id).first()
        if key is None or not key.check_secret(secret):
            raise exceptions.AuthenticationFailed("unknown API key or wrong secret")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            # Coarse on purpose: one write a minute per key, not one per request.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiPrincipal(name=key.client_id, tenant=key.tenant, tenant_ids=[key.tenant_id]), key

    def authenticate_header(self, request) -> str:  # type: ignore[no-untyped-def]
        return 'Basic realm="flowsync"'
