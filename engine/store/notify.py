"""Wake, don't poll: Redis pub/sub between the engine (after commit) and waiting API requests.

The engine calls, after the transaction that wrote the rows has committed:

    notify_batch({tenant_id: {"payment", ...}}, [ended instance key, ...], [settled task key, ...])
    notify_jobs_available(tenant_id, {"payment", ...})   # jobs became activatable (outside a batch)

Each is one round trip (a pipelined PUBLISH per channel), never raises (Redis down only makes
waiters fall back to their periodic re-check), and may be called with empty arguments.

API requests wait with `Waiter`: register first, then look in PostgreSQL, then sleep until
a notification (delivered by the process's one subscription, `_Hub`) or the re-check
interval, and look again. No transaction is held while waiting (the caller must not be
inside `atomic`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

from django.conf import settings

from flowsync import redis
from flowsync.shutdown import STOPPING

log = logging.getLogger("flowsync.engine")

JOBS_CHANNEL = "flowsync:jobs:{tenant_id}:{job_type}"
ENDED_CHANNEL = "flowsync:instance-ended:{key}"
# What the engine publishes: one message per batch naming every instance that ended, space-separated (one
# PUBLISH per instance was one Redis command and one message to every web process per instance). The hub
# hands it to the waiters of each key's ENDED_CHANNEL.
ENDED_MANY_CHANNEL = "flowsync:instances-ended"
TASK_CHANNEL = "flowsync:user-task-settled:{key}"  # a user task's listeners decided its transition
# Re-check PostgreSQL at least this often while waiting, in case a notification was lost.
DEFAULT_RECHECK_SECONDS = 2.0


def _connection():  # type: ignore[no-untyped-def]
    return redis.connection("engine")


def jobs_channel(tenant_id: int, job_type: str) -> str:
    return JOBS_CHANNEL.format(tenant_id=tenant_id, job_type=job_type)


def ended_channel(key: int) -> str:
    return ENDED_CHANNEL.format(key=key)


def task_channel(key: int) -> str:
    return TASK_CHANNEL.format(key=key)


def _publish(messages: list[tuple[str, str]]) -> None:
    """(channel, message) pairs, in one round trip to Redis."""
    if not messages:
        return
    try:
        pipe = _connection().pipeline(transaction=False)
        for channel, message in messages:
            pipe.publish(channel, message)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - waiters re-check PostgreSQL on their own
        log.warning("could not publish %d notifications through Redis (%s)", len(messages), exc)


def _jobs(tenant_id: int, job_types: Iterable[str]) -> list[tuple[str, str]]:
    return [(jobs_channel(tenant_id, t), "1") for t in sorted(set(job_types))]


def _ended(keys: Iterable[int]) -> list[tuple[str, str]]:
    ended = sorted({int(k) for k in keys})
    return [(ENDED_MANY_CHANNEL, " ".join(map(str, ended)))] if ended else []


def _settled(keys: Iterable[int]) -> list[tuple[str, str]]:
    return [(task_channel(int(k)), "1") for k in sorted(set(keys))]


def notify_jobs_available(tenant_id: int, job_types: Iterable[str]) -> None:
    """Jobs of these types became activatable in this tenant (call after commit)."""
    _publish(_jobs(tenant_id, job_types))


def notify_instances_ended(keys: Iterable[int]) -> None:
    """These process instances reached COMPLETED or TERMINATED (call after commit)."""
    _publish(_ended(keys))


def notify_batch(jobs: dict[int, set[str]], ended: Iterable[int], settled: Iterable[int]) -> None:
    """An engine batch's notifications (jobs that became activatable per tenant, instances that ended, tasks
    settled) in one round trip to Redis, not one per kind (call after commit)."""
    messages = [m for tenant_id, job_types in jobs.items() for m in _jobs(tenant_id, job_types)]
    _publish(messages + _ended(ended) + _settled(settled))


def recheck_seconds() -> float:
    return float(getattr(settings, "FLOWSYNC_WAIT_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))


class _Hub:
    """One Redis subscription per process, shared by every waiting request.

    A subscription per request cost a Redis connection and two round trips on every long
    poll. The hub's thread pattern-subscribes to all FlowSync channels once and sets the
    events of the requests waiting on a channel. While it (re)connects, notifications are
    missed; waiters re-check PostgreSQL every FLOWSYNC_WAIT_RECHECK_SECONDS anyway.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}
        self._pid = 0
        self._subscribed = threading.Event()

    def add(self, channels: list[str], event: threading.Event) -> None:
        started = False
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (or a forked child)
                self._pid = os.getpid()
                self._waiting = {}
                self._subscribed = threading.Event()
                threading.Thread(target=self._listen, name="flowsync-wake-hub", daemon=True).start()
                started = True
            for channel in channels:
                self._waiting.setdefault(channel, set()).add(event)
        if started:
            # The first waiter of a process waits for the subscription, or it could miss its notification.
            self._subscribed.wait(1.0)

    def remove(self, channels: list[str], event: threading.Event) -> None:
        with self._lock:
            for channel in channels:
                events = self._waiting.get(channel)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiting[channel]

    def _listen(self) -> None:
        pause = 1.0
        while True:
            pubsub = None
            try:
                pubsub = _connection().pubsub()
                pubsub.psubscribe("flowsync:*")
                for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "psubscribe":
                        self._subscribed.set()
                        pause = 1.0
                    if kind != "pmessage":
                        continue
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    channels = [channel]
                    if channel == ENDED_MANY_CHANNEL:
                        data = message["data"]
                        data = data.decode() if isinstance(data, bytes) else str(data)
                        channels = [ended_channel(int(k)) for k in data.split()]
                    with self._lock:
                        events = [e for c in channels for e in self._waiting.get(c, ())]
                    for event in events:
                        event.set()
            except Exception as exc:  # noqa: BLE001 - Redis down: waiters fall back to their re-check
                self._subscribed.clear()
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass
                log.warning("wake-up subscription lost (%s); reconnecting in %.0f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, 30.0)


_hub = _Hub()


class Waiter:
    """Register for channels, then `wait(seconds)` until a message arrives or the time is up.

    Use as a context manager; register *before* checking the database, so a notification
    published between the check and the wait is not missed.
    """

    def __init__(self, channels: Iterable[str]):
        self.channels = list(channels)
        self._event = threading.Event()
        self._hub = _hub if settings.REDIS_URL else None
        if self._hub is not None:
            self._hub.add(self.channels, self._event)

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hub is not None:
            self._hub.remove(self.channels, self._event)

    def wait(self, seconds: float) -> bool:
        """Sleep until a notification (True) or at most `seconds` (False)."""
        woken = self._event.wait(max(seconds, 0.0))
        self._event.clear()
        return woken


def wait_until(check, channels: Iterable[str], timeout: float):  # type: ignore[no-untyped-def]
    """Call `check()` until it returns something truthy or `timeout` seconds pass; return its last value.

    Between checks, sleep on the channels (woken by a notification), re-checking at least
    every FLOWSYNC_WAIT_RECHECK_SECONDS. A web worker that is stopping answers at the next
    re-check with what it has (flowsync/shutdown.py).
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    with Waiter(channels) as waiter:
        while True:
            value = check()
            remaining = deadline - time.monotonic()
            if value or remaining <= 0 or STOPPING.is_set():
                return value
            waiter.wait(min(remaining, recheck_seconds()))
