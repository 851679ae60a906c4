"""A web worker asked to stop (SIGTERM) finishes its in-flight requests, and long polls end early.

gunicorn stops accepting connections and waits up to its graceful timeout for the
requests in flight. A long poll (job activation, awaitCompletion) could outlast that, so
`STOPPING` is set from the worker's SIGTERM handler and waiting requests answer with
what they have at their next re-check; the client polls again, on another worker.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

STOPPING = threading.Event()


def watch_gunicorn_worker(worker: Any) -> None:
    """Called from gunicorn.conf.py's post_worker_init: chain our flag before gunicorn's own SIGTERM handler."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        STOPPING.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)
