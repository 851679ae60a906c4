"""Per-tenant API rate limit: a token bucket in Redis, refilled at the tenant's rate.

Each tenant gets `rate` requests per second with bursts up to `burst` (Tenant.api_rate_limit
and Tenant.api_burst in the admin; empty = FLOWSYNC_API_RATE_LIMIT / twice the rate; a rate
of 0 means unlimited). One atomic Lua script per request; Redis time, so every web process
shares one clock. If Redis is unreachable requests are let through (and logged): the rate
limit protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.conf import settings

from flowsync import redis
from flowsync.models import Tenant

log = logging.getLogger("flowsync.api")

DEFAULT_RATE = 500
KEY = "flowsync:ratelimit:{tenant}"

# KEYS[1] bucket; ARGV rate (tokens/s), burst, cost. Returns {allowed, wait_ms}.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + (math.max(0, now - ts) * rate / 1000))
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds, at least 1 when refused


def limits_for(tenant: Tenant) -> tuple[int, int]:
    rate = tenant.api_rate_limit
    if rate is None:
        rate = int(getattr(settings, "FLOWSYNC_API_RATE_LIMIT", DEFAULT_RATE))
    burst = tenant.api_burst or max(1, 2 * rate)
    return rate, burst


_script = None


def _redis_script():  # type: ignore[no-untyped-def]
    global _script
    if _script is None:
        _script = redis.connection("engine").register_script(_SCRIPT)
    return _script


def take(tenant: Tenant, cost: int = 1) -> Decision:
    rate, burst = limits_for(tenant)
    return take_key(KEY.format(tenant=tenant.pk), rate, burst, cost)


def take_key(key: str, rate: int, burst: int, cost: int = 1) -> Decision:
    """The same token bucket under any key (e.g. one per webhook trigger); rate <= 0: no limit."""
    if rate <= 0:
        return Decision(True, 0)
    try:
        allowed, wait_ms = _redis_script()(keys=[key], args=[rate, burst, cost])
    except Exception as exc:  # noqa: BLE001 - fail open
        log.warning("rate limit not checked, Redis unavailable (%s)", exc)
        return Decision(True, 0)
    return Decision(bool(allowed), 0 if allowed else max(1, math.ceil(int(wait_ms) / 1000)))


def reset(tenant: Tenant) -> None:
    redis.connection("engine").delete(KEY.format(tenant=tenant.pk))
