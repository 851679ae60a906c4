"""The engine worker's loop: apply commands the moment they commit, sweep for what nobody woke.

Every worker process runs one `EngineLoop` thread. It LISTENs on PostgreSQL's
`flowsync_engine` channel (engine/store/wake.py), drains when notified, and every
sweep interval (or sooner, when a timer falls due) fires due timers, schedules
connector jobs left behind and drains commands nobody woke it for. PostgreSQL, not
the notification, is what guarantees progress: a lost NOTIFY costs one interval.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from django.conf import settings
from django.db import close_old_connections, connections

from engine.actions.batches import requeue_stale
from engine.connectors.runner import schedule_pending
from engine.models import Command, Timer
from engine.runtime.loop import drain
from engine.runtime.wake_share import WakeShare
from engine.store import definition_counts, retention
from engine.store.wake import CHANNEL
from engine.timers.firing import fire_due_timers
from flowsync.dbfaults import is_connection_fault

log = logging.getLogger("flowsync.engine")


def sweep_once(stopped: threading.Event | None = None) -> int:
    """Fire due timers, then apply commands left pending (crash, lost wake-up, database restart)."""
    from django.utils import timezone

    while fire_due_timers(timezone.now()):
        pass
    schedule_pending(timezone.now())  # connector jobs whose run died, or whose retry backoff is over
    requeue_stale(timezone.now())  # batch operations whose worker died mid-way, or whose Redis job was lost
    definition_counts.refresh(timezone.now())  # the Definitions pages' finished counts, every 5 minutes
    if not Command.objects.filter(state=Command.State.PENDING).exists():
        return 0
    return drain(stopped=stopped)


def next_sweep_in(interval: float) -> float:
    """Seconds until the next sweep: the interval, or less when a timer falls due before it."""
    from django.db.models import Min
    from django.utils import timezone

    # Timers created after this look are seen at the next sweep at the latest (one interval).
    next_due = Timer.objects.filter(state=Timer.State.ACTIVE).aggregate(m=Min("due_at"))["m"]
    if next_due is None:
        return interval
    return min(interval, max(0.01, (next_due - timezone.now()).total_seconds()))


def clean_history(interval: float) -> float:
    """Delete expired history for a bounded time; seconds until the next run (sooner while some is left)."""
    from django.utils import timezone

    try:
        removed = retention.cleanup(timezone.now(), seconds=settings.FLOWSYNC_RETENTION_SECONDS_PER_RUN)
    except Exception as exc:  # noqa: BLE001 - e.g. the export directory is full: commands must still flow
        if is_connection_fault(exc):
            raise
        log.exception("history cleanup failed; next try in %.0f s", settings.FLOWSYNC_RETENTION_INTERVAL_SECONDS)
        return settings.FLOWSYNC_RETENTION_INTERVAL_SECONDS
    return interval if removed.more else settings.FLOWSYNC_RETENTION_INTERVAL_SECONDS


def _listen(share: WakeShare) -> psycopg.Connection:
    if settings.FLOWSYNC_LISTEN_DATABASE_URL:  # DATABASE_URL goes through a transaction-mode pooler
        conn = psycopg.connect(settings.FLOWSYNC_LISTEN_DATABASE_URL, autocommit=True)
    else:
        wanted = ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert", "sslkey")
        params = {k: v for k, v in connections["default"].get_connection_params().items() if k in wanted}
        conn = psycopg.connect(**params, autocommit=True)
    share.take_slot(conn)  # the slot lives as long as this session
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


class EngineLoop(threading.Thread):
    def __init__(self, interval: float | None = None):
        super().__init__(name="flowsync-engine-loop", daemon=True)
        self.interval = interval or settings.ENGINE_SWEEP_SECONDS
        self.stopped = threading.Event()
        self.share = WakeShare()

    def run(self) -> None:
        listener: psycopg.Connection | None = None
        sweep_at = 0.0
        clean_at = 0.0 if settings.FLOWSYNC_RETENTION_INTERVAL_SECONDS > 0 else float("inf")
        while not self.stopped.is_set():
            try:
                if listener is None:
                    # Listen before looking: a commit after the look still wakes us.
                    listener = _listen(self.share)
                    sweep_at = 0.0  # notifications sent while it did not listen: look now
                close_old_connections()
                if time.monotonic() >= sweep_at:
                    self.share.refresh()  # which workers listen: each answers its share of wake-ups
                    applied = sweep_once(self.stopped)
                    if applied:
                        log.info("sweep applied %d pending commands", applied)
                    sweep_at = time.monotonic() + next_sweep_in(self.interval)
                    if time.monotonic() >= clean_at:
                        clean_at = time.monotonic() + clean_history(self.interval)
                else:
                    drain(stopped=self.stopped)
                if not self.stopped.is_set():
                    self._wait(listener, sweep_at - time.monotonic())
            except Exception as exc:  # noqa: BLE001 - keep going after a database restart or a transient error
                if is_connection_fault(exc):
                    log.warning("engine loop lost its database connection (%s); reconnecting", exc)
                else:
                    log.exception("engine loop failed; retrying")
                if listener is not None:
                    listener.close()
                    listener = None
                connections.close_all()
                self.stopped.wait(min(self.interval, 1.0))
        if listener is not None:
            listener.close()
        connections.close_all()  # stopping: end the session now, nothing of ours stays locked

    def _wait(self, listener: psycopg.Connection, seconds: float) -> None:
        """Return at the first notification this worker answers (the ones that arrived meanwhile are served by
        the same drain), or when `seconds` are up (time to sweep). Other workers' notifications are skipped:
        their owner receives them too and drains after what it is doing."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while not self.stopped.is_set():
            mine = False
            for note in listener.notifies(timeout=max(deadline - time.monotonic(), 0.0), stop_after=1):
                mine = mine or self.share.answers(note.payload)
            for note in listener.notifies(timeout=0):
                mine = mine or self.share.answers(note.payload)
            if mine or time.monotonic() >= deadline:
                return
