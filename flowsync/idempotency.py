"""`Idempotency-Key` on creating requests: the first answer is kept 24 hours.

Within that time the same key (per tenant) with the same request returns the stored
answer and creates nothing; the same key with another request (method, path or body)
is refused with 422. The stored row is written in the same transaction as whatever the
request created, so either both exist or neither: a crash cannot leave a key that
claims a creation which never happened. Two concurrent requests with one key are
serialised by the unique index: the second waits for the first to commit, then
gets its answer. Only successful (2xx) answers are kept; a refused request can be
retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flowsync.models import IdempotentResponse, Tenant

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was used with a different request."""


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def run(
    tenant: Tenant, key: str, print_: str, handler: Callable[[], tuple[int, Any]]
) -> tuple[Stored, bool]:
    """Run `handler` (returning status and JSON body) at most once per (tenant, key) in 24 h.

    Returns the answer and whether it was replayed. Must not be called inside a transaction
    that outlives the request; the handler runs inside this function's transaction.
    """
    now = timezone.now()
    if random.random() < 0.01:
        IdempotentResponse.objects.filter(created_at__lt=now - TTL).delete()
    with transaction.atomic():
        existing = _existing(tenant, key, now)
        if existing is not None:
            return _replay(existing, print_), True
        status, body = handler()
        if not 200 <= status < 300:
            return Stored(status, body), False
        try:
            with transaction.atomic():
                IdempotentResponse.objects.create(
                    tenant=tenant, key=key, fingerprint=print_, status=status, body=body, created_at=now
                )
        except IntegrityError:
            # Another request with this key committed first: ours must not take effect.
            transaction.set_rollback(True)
        else:
            return Stored(status, body), False
    existing = _existing(tenant, key, now)
    if existing is None:  # pragma: no cover - the winner's row vanished (expired) in between
        raise KeyReused("the idempotency key is being used by another request; retry")
    return _replay(existing, print_), True


def _existing(tenant: Tenant, key: str, now) -> IdempotentResponse | None:  # type: ignore[no-untyped-def]
    found = IdempotentResponse.objects.filter(tenant=tenant, key=key).first()
    if found is not None and found.created_at < now - TTL:
        found.delete()
        return None
    return found


def _replay(row: IdempotentResponse, print_: str) -> Stored:
    if row.fingerprint != print_:
        raise KeyReused("this Idempotency-Key was used with a different request in the last 24 hours")
    return Stored(row.status, row.body)
