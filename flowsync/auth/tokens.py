"""Short-lived signed access tokens for OAuth client credentials (an API key's id and secret).

A token is `django.core.signing` over {api key pk, client id, expiry, binding}: no table, and a
revoked key's tokens stop working at once because every use re-reads the key. The binding is
derived from the key's stored secret hash, so a token cannot be made from a client id alone
(even by someone who learnt SECRET_KEY), and a key whose secret changes loses its old tokens.
"""

from __future__ import annotations

import hashlib
import hmac
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
    claims = {"k": key.pk, "c": key.client_id, "exp": int(time.time()) + ttl, "b": _binding(key)}
    token = signing.dumps(claims, salt=SALT)
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
    if not isinstance(claims.get("b"), str) or not hmac.compare_digest(claims["b"], _binding(key)):
        return None
    return key


def _binding(key: ApiKey) -> str:
    return hmac.new(key.secret_hash.encode(), f"{SALT}:{key.pk}:{key.client_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]
