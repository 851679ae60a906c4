"""An engine worker's heartbeat: a thread of its own, so a long batch never makes a busy worker
look lost; only a dead, frozen or disconnected process stops beating.

Claims need no takeover code: a worker's claims are row locks of its open transaction, which
PostgreSQL releases when the session ends (kill -9 included), and connector jobs carry a lock
deadline after which they are activatable again.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import uuid

from django.conf import settings
from django.db import connections
from django.utils import timezone

from engine.runtime.batch_metrics import progress
from engine.store import heartbeats
from flowsync import __version__

log = logging.getLogger("flowsync.engine")
FORGET_AFTER = datetime.timedelta(days=1)


def worker_id(name: str | None = None) -> str:
    return name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Heartbeat(threading.Thread):
    def __init__(self, worker: str, interval: float | None = None):
        super().__init__(name="flowsync-heartbeat", daemon=True)
        self.worker = worker
        self.interval = interval or float(getattr(settings, "FLOWSYNC_HEARTBEAT_SECONDS", 5.0))
        self.stopped = threading.Event()

    def run(self) -> None:
        registered = False
        while not self.stopped.is_set():
            try:
                if not registered:
                    heartbeats.register(self.worker, socket.gethostname(), os.getpid(), __version__)
                    heartbeats.forget_older_than(timezone.now() - FORGET_AFTER)
                    registered = True
                else:
                    heartbeats.beat(self.worker, progress.applied, progress.batch)
            except Exception as exc:  # noqa: BLE001 - a database outage: beat again next interval
                log.warning("heartbeat failed (%s)", exc)
                connections.close_all()
            self.stopped.wait(self.interval)
        try:
            heartbeats.stopped(self.worker, progress.applied)
        except Exception as exc:  # noqa: BLE001 - stopping anyway; the row will show as lost
            log.warning("could not record the worker's stop (%s)", exc)
        connections.close_all()
