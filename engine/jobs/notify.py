"""Wake, don't poll: Redis pub/sub between the engine (after commit) and waiting API requests.

The engine calls, after the transaction that wrote the rows has committed:

    notify_jobs_available(tenant_id, {"payment", ...})   # jobs became activatable
    notify_instances_ended([instance_key, ...])          # instances COMPLETED or TERMINATED

Both are cheap (one pipelined PUBLISH per channel), never raise (Redis down only makes
waiters fall back to their periodic re-check), and may be called with empty arguments.

API requests wait with `Waiter`: subscribe first, then look in PostgreSQL, then sleep on
the subscription until a notification or the re-check interval, and look again. No
transaction is held while waiting (the caller must not be inside `atomic`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.conf import settings

log = logging.getLogger("flowsync.engine")

JOBS_CHANNEL = "flowsync:jobs:{tenant_id}:{job_type}"
ENDED_CHANNEL = "flowsync:instance-ended:{key}"
# Re-check PostgreSQL at least this often while waiting, in case a notification was lost.
DEFAULT_RECHECK_SECONDS = 2.0


def _connection():  # type: ignore[no-untyped-def]
    from flowsync import redis

    return redis.connection("engine")


def jobs_channel(tenant_id: int, job_type: str) -> str:
    return JOBS_CHANNEL.format(tenant_id=tenant_id, job_type=job_type)


def ended_channel(key: int) -> str:
    return ENDED_CHANNEL.format(key=key)


def _publish(channels: list[str]) -> None:
    if not channels:
        return
    try:
        pipe = _connection().pipeline(transaction=False)
        for channel in channels:
            pipe.publish(channel, "1")
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - waiters re-check PostgreSQL on their own
        log.warning("could not publish %d notifications through Redis (%s)", len(channels), exc)


def notify_jobs_available(tenant_id: int, job_types: Iterable[str]) -> None:
    """Jobs of these types became activatable in this tenant (call after commit)."""
    _publish([jobs_channel(tenant_id, t) for t in sorted(set(job_types))])


def notify_instances_ended(keys: Iterable[int]) -> None:
    """These process instances reached COMPLETED or TERMINATED (call after commit)."""
    _publish([ended_channel(int(k)) for k in sorted(set(keys))])


def recheck_seconds() -> float:
    return float(getattr(settings, "FLOWSYNC_WAIT_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))


class Waiter:
    """Subscribe to channels, then `wait(seconds)` until a message arrives or the time is up.

    Use as a context manager; subscribe *before* checking the database, so a notification
    published between the check and the wait is not missed.
    """

    def __init__(self, channels: Iterable[str]):
        self.channels = list(channels)
        self._pubsub = None
        try:
            self._pubsub = _connection().pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(*self.channels)
        except Exception as exc:  # noqa: BLE001 - without Redis, waiting degrades to the periodic re-check
            log.warning("long-poll without Redis notifications (%s)", exc)
            self._close()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001
                pass
            self._pubsub = None

    def wait(self, seconds: float) -> bool:
        """Sleep until a notification (True) or at most `seconds` (False)."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._pubsub is None:
                time.sleep(remaining)
                return False
            try:
                message = self._pubsub.get_message(timeout=remaining)
            except Exception as exc:  # noqa: BLE001
                log.warning("lost the Redis subscription while waiting (%s)", exc)
                self._close()
                continue
            if message is not None and message.get("type") == "message":
                return True


def wait_until(check, channels: Iterable[str], timeout: float):  # type: ignore[no-untyped-def]
    """Call `check()` until it returns something truthy or `timeout` seconds pass; return its last value.

    Between checks, sleep on the channels (woken by a notification), re-checking at least
    every FLOWSYNC_WAIT_RECHECK_SECONDS.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    with Waiter(channels) as waiter:
        while True:
            value = check()
            remaining = deadline - time.monotonic()
            if value or remaining <= 0:
                return value
            waiter.wait(min(remaining, recheck_seconds()))
