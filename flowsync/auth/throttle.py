"""Password guessing brake: failed sign-ins counted per username and per client IP in Redis.

Used by the API's Basic auth, the OAuth token endpoint and the login page. After
FLOWSYNC_LOGIN_MAX_FAILURES_PER_USER failures for one name (default 10) or
FLOWSYNC_LOGIN_MAX_FAILURES_PER_IP from one address (default 100) within
FLOWSYNC_LOGIN_WINDOW_SECONDS (default 300), further attempts are refused with 429 and
`Retry-After` until the window ends, before any password is checked; each refusal is logged.
A successful sign-in clears its name's count.

Redis down: the brake fails *open* (logged), like the API rate limit: Redis is a helper, not a
dependency of signing in, and every attempt still costs a full password hash. The client IP is
REMOTE_ADDR (a reverse proxy must pass the real address, e.g. gunicorn's --forwarded-allow-ips).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings

from flowsync import redis

log = logging.getLogger("flowsync.auth")

KEY = "flowsync:login-failures:{kind}:{digest}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds, when refused


def _limits() -> tuple[int, int, int]:
    return (
        int(getattr(settings, "FLOWSYNC_LOGIN_MAX_FAILURES_PER_USER", 10)),
        int(getattr(settings, "FLOWSYNC_LOGIN_MAX_FAILURES_PER_IP", 100)),
        int(getattr(settings, "FLOWSYNC_LOGIN_WINDOW_SECONDS", 300)),
    )


def _keys(username: str, ip: str) -> tuple[str, str]:
    # Hashed: a username is attacker-chosen text of any length.
    name = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    addr = hashlib.sha256(ip.encode()).hexdigest()[:32]
    return KEY.format(kind="user", digest=name), KEY.format(kind="ip", digest=addr)


def _redis():  # type: ignore[no-untyped-def]
    return redis.connection("engine")


def check(username: str, ip: str) -> Verdict:
    """Whether another attempt for this name from this address may be checked now."""
    per_user, per_ip, _window = _limits()
    user_key, ip_key = _keys(username, ip)
    try:
        conn = _redis()
        user_count, ip_count = conn.mget(user_key, ip_key)
        blocked = [(k, n) for k, n, limit in ((user_key, user_count, per_user), (ip_key, ip_count, per_ip))
                   if n is not None and int(n) >= limit > 0]
        if not blocked:
            return Verdict(True)
        wait = max(max(int(conn.ttl(k)), 1) for k, _ in blocked)
    except Exception as exc:  # noqa: BLE001 - fail open, see the module docstring
        log.warning("sign-in throttle not checked, Redis unavailable (%s)", exc)
        return Verdict(True)
    log.warning("sign-in throttled: user=%r ip=%s retry_after=%ss", username[:150], ip, wait)
    return Verdict(False, wait)


def failed(username: str, ip: str) -> None:
    _per_user, _per_ip, window = _limits()
    try:
        pipe = _redis().pipeline()
        for key in _keys(username, ip):
            pipe.set(key, 0, ex=window, nx=True)  # the window starts at the first failure
            pipe.incr(key)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - fail open
        log.warning("sign-in failure not counted, Redis unavailable (%s)", exc)
    log.info("sign-in failed: user=%r ip=%s", username[:150], ip)


def succeeded(username: str, ip: str) -> None:
    try:
        _redis().delete(_keys(username, ip)[0])
    except Exception:  # noqa: BLE001, S110 - nothing to clear without Redis
        pass


def client_ip(meta: dict) -> str:
    return str(meta.get("REMOTE_ADDR") or "unknown")
