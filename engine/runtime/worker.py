"""The RQ side of the engine: the drain job and the sweeper that re-drives lost work."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from engine.models import Command
from engine.runtime.loop import drain

log = logging.getLogger("flowsync.engine")


def drain_job() -> int:
    """RQ job: clear the wake flag, then apply everything pending."""
    from engine.runtime.wake import WAKE_FLAG
    from flowsync import redis

    try:
        redis.connection("engine").delete(WAKE_FLAG)
    except Exception:  # noqa: BLE001 - draining from PostgreSQL works without Redis
        pass
    return drain()


def sweep_once() -> int:
    """Fire due timers, then apply commands left pending (crash, lost wake-up, Redis outage)."""
    from django.utils import timezone

    from engine.connectors.runner import schedule_pending
    from engine.timers.firing import fire_due_timers

    while fire_due_timers(timezone.now()):
        pass
    schedule_pending(timezone.now())  # connector jobs whose run died, or whose retry backoff is over
    if not Command.objects.filter(state=Command.State.PENDING).exists():
        return 0
    return drain()


class Sweeper(threading.Thread):
    """Runs inside every worker process: PostgreSQL, not Redis, is what guarantees progress.

    Every `interval` seconds it fires due timers and applies commands nobody woke the engine for;
    when a timer falls due sooner, it wakes for that timer (so timers fire on time, not on the
    next round).
    """

    def __init__(self, interval: float | None = None):
        super().__init__(name="flowsync-sweeper", daemon=True)
        self.interval = interval or settings.ENGINE_SWEEP_SECONDS
        self.stopped = threading.Event()

    def run(self) -> None:
        pause = self.interval
        while not self.stopped.wait(pause):
            try:
                close_old_connections()
                applied = sweep_once()
                if applied:
                    log.info("sweeper applied %d pending commands", applied)
                pause = self._pause()
            except Exception:  # noqa: BLE001 - keep sweeping after a transient DB error
                log.exception("sweep failed")
                pause = self.interval

    def _pause(self) -> float:
        """Seconds until the next round: the interval, or less when a timer falls due before it."""
        from django.db.models import Min
        from django.utils import timezone

        from engine.models import Timer

        # Timers created after this look are seen at the next round at the latest (one interval).
        next_due = Timer.objects.filter(state=Timer.State.ACTIVE).aggregate(m=Min("due_at"))["m"]
        if next_due is None:
            return self.interval
        return min(self.interval, max(0.01, (next_due - timezone.now()).total_seconds()))
