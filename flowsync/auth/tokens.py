"""Short-lived signed access tokens for OAuth client credentials (an API key's id and secret).

A token is `django.core.signing` over {api key pk, client id, expiry}: no table, and a
revoked key's tokens stop working at once because every use re-reads the key.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing

from flowsync.models import ApiKey

SALT = "flowsync.oauth.access-token"
DEFAULT_TTL_SECONDS = 900


def token_ttl() -> int:
    return int(getattr(settings, "FLOWSYNC_OAUTH_TOKEN_SECONDS", DEFAULT_TTL_SECONDS))


def issue_token(key: ApiKey) -> tuple[str, int]:
    ttl = token_ttl()
    token = signing.dumps({"k": key.pk, "c": key.client_id, "exp": int(time.time()) + ttl}, salt=SALT)
    return token, ttl


def verify_token(token: str) -> ApiKey | None:
    """The live API key a valid, unexpired token was issued for; None otherwise."""
    try:
        claims = signing.loads(token, salt=SALT, max_age=token_ttl() + 60)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    key = ApiKey.objects.select_related("tenant").filter(pk=claims.get("k"), client_id=claims.get("c")).first()
    if key is None or key.revoked_at is not None:
        return None
    return key
