"""One Redis connection pool and one RQ queue object per process.

`django_rq.get_connection()` builds a new client with a new pool on every call, so each
wake-up, notification or rate-limit check opened a TCP connection (≈ 6 ms). These are
cached per process id: a forked child (gunicorn, bench) makes its own.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.RLock()  # queue() builds its connection() under the lock
_cache: dict[tuple[int, str, str], Any] = {}


def _cached(kind: str, name: str, build: Any) -> Any:
    key = (os.getpid(), kind, name)
    found = _cache.get(key)
    if found is None:
        with _lock:
            found = _cache.get(key)
            if found is None:
                found = _cache[key] = build()
    return found


def connection(queue: str = "engine") -> Any:
    import django_rq

    return _cached("conn", queue, lambda: django_rq.get_connection(queue))


def queue(name: str = "engine") -> Any:
    import django_rq

    # Enqueue at once: callers enqueue after their commit already (or mean to, like a flag's job).
    return _cached("queue", name, lambda: django_rq.get_queue(name, connection=connection(name), commit_mode="auto"))
