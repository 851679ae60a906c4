"""Waking the engine after a transaction that wrote commands has committed.

Inline mode (embedded default): drain in this process right after commit.
Queue mode: enqueue one drain job on the RQ `engine` queue. A Redis flag keeps at most
one drain waiting in the queue; the drain clears the flag before it looks for work,
so a command committed after that look always enqueues a new drain. If Redis is
unreachable nothing is lost: the worker's sweeper finds the pending commands.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

log = logging.getLogger("flowsync.engine")

WAKE_FLAG = "flowsync:engine:drain-queued"


def request_drain() -> None:
    # One wake-up per transaction, however many commands it wrote.
    conn = transaction.get_connection()
    if not any(func is _wake for _, func, _ in conn.run_on_commit):
        transaction.on_commit(_wake)


def _wake() -> None:
    if settings.ENGINE_INLINE:
        from engine.runtime.loop import drain

        drain()
        return
    try:
        enqueue_drain()
    except Exception as exc:  # noqa: BLE001 - Redis down must not fail the request; the sweeper re-drives
        log.warning("could not wake the engine through Redis (%s); the sweeper will pick the work up", exc)


def enqueue_drain(force: bool = False) -> None:
    from flowsync import redis

    conn = redis.connection("engine")
    if force or conn.set(WAKE_FLAG, "1", nx=True, ex=30):
        redis.queue("engine").enqueue("engine.runtime.worker.drain_job", result_ttl=0, failure_ttl=3600)
