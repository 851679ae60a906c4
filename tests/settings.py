"""Tests run on PostgreSQL and Redis (the README's test command starts both)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Under pytest-xdist each worker has its own test database (pytest-django adds the worker's suffix) and
# its own Redis database, counted down from the given one, so one worker's flush never empties another's queues.
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
if _worker:
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{(int(_db or 0) - _worker) % 16}"
# Tests drain the engine explicitly or through a real worker process.
os.environ.setdefault("FLOWSYNC_ENGINE_INLINE", "0")
# So commands wait, pending, for as long as a test likes: no refusing new instances because the
# engine lags (tests/api/test_hardening__limits.py turns it on to prove it).
os.environ.setdefault("FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS", "0")
# Likewise jobs wait for a test's worker as long as it likes (tests/api/test_backpressure__job_lag.py).
os.environ.setdefault("FLOWSYNC_BACKPRESSURE_JOB_LAG_MS", "0")
# Settings refuse a known key outside DEBUG; worker and server processes the tests start inherit this.
os.environ.setdefault("FLOWSYNC_SECRET_KEY", "tests-only-5f0c1d9e7a2b4c68b3e1f0a9d8c7b6a5e4d3c2b1")

from flowsync.settings import *  # noqa: E402,F403
