"""gunicorn's threaded worker, telling the application how long each request waited for a thread.

gunicorn gives no such header: a request that became readable is queued for the worker's thread pool,
and under overload it can wait there longer than it takes to serve. The time it waited goes into the WSGI
environ as `flowsync.queued_seconds`, so backpressure (engine/backpressure.py, asked by the API's gate)
can refuse a start that already waited too long instead of serving it late. gunicorn.conf.py selects it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

QUEUED_KEY = "flowsync.queued_seconds"
_picked = threading.local()


class QueueTimingWorker(ThreadWorker):
    def enqueue_req(self, conn: Any) -> None:
        conn.flowsync_ready_at = time.monotonic()  # readable (or accepted): queued for a thread from now
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        ready = getattr(conn, "flowsync_ready_at", None)
        _picked.queued = None if ready is None else time.monotonic() - ready
        conn.flowsync_ready_at = None  # a later request on this connection is stamped when it arrives
        return super().handle(conn)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def timed(environ: dict[str, Any], start_response: Any) -> Any:
            queued = getattr(_picked, "queued", None)
            if queued is not None:
                environ[QUEUED_KEY] = queued
                _picked.queued = None
            return app(environ, start_response)

        self.wsgi = timed
