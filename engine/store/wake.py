"""Waking the engine when a transaction that wrote commands commits.

Inline mode (embedded default, SQLite): drain in this process right after the commit.
Worker mode (PostgreSQL): `NOTIFY flowsync_engine` inside the writing transaction.
PostgreSQL delivers it to every listening engine worker when, and only when, that
transaction commits, so a worker never looks before the commands are visible and a
rolled-back request wakes nobody. No call after the commit can be lost to a crash
in between; a notification missed while a worker restarts costs one sweep interval
(workers also drain on their sweep, engine/runtime/worker.py).

An RQ job per wake-up was the first design: RQ's own bookkeeping took ~8 ms a job,
more than applying a small batch, and put Redis round trips on every request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

CHANNEL = "flowsync_engine"

# The inline engine's drain, installed by the engine app at start-up (engine/apps.py): the
# store sits below the runtime and must not import it.
_inline_drain: Callable[[], object] | None = None


def install_inline_drain(drain: Callable[[], object]) -> None:
    global _inline_drain
    _inline_drain = drain


def request_drain() -> None:
    """Wake the engine once the current transaction commits (once per transaction)."""
    conn = transaction.get_connection()
    if settings.ENGINE_INLINE or conn.vendor != "postgresql":
        if not any(func is _drain_inline for _, func, _ in conn.run_on_commit):
            transaction.on_commit(_drain_inline)
        return
    if claim_notify():
        notify_engine()


def wake_every_worker() -> None:
    """Worker mode: a NOTIFY without a payload, which every engine worker answers, at commit."""
    if settings.ENGINE_INLINE or transaction.get_connection().vendor != "postgresql":
        return
    notify_engine()


def notify_engine() -> None:
    """Send the NOTIFY now (delivered when the transaction commits); see `claim_notify`."""
    with transaction.get_connection().cursor() as cur:
        cur.execute(f"NOTIFY {CHANNEL}")


def claim_notify() -> bool:
    """Worker mode: True when this transaction has not sent its NOTIFY yet (it is then counted as
    sent: the caller sends it, as `NOTIFY` or as `pg_notify(CHANNEL, '')` inside its own statement,
    which saves a statement on every API write). False in inline mode (see `request_drain`)."""
    conn = transaction.get_connection()
    if settings.ENGINE_INLINE or conn.vendor != "postgresql":
        return False
    if conn.in_atomic_block:
        # The marker goes if the savepoint that notified rolls back, like the NOTIFY itself.
        if any(func is _notified for _, func, _ in conn.run_on_commit):
            return False
        transaction.on_commit(_notified)
    return True


def _notified() -> None:
    """Marks a transaction that has sent its NOTIFY already."""


def _drain_inline() -> None:
    if _inline_drain is None:  # pragma: no cover - the engine app installs it in ready()
        raise RuntimeError("the engine app is not ready: no inline drain installed")
    _inline_drain()
