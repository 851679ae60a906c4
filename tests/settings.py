"""Tests run on PostgreSQL and Redis (the README's test command starts both)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsync")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Tests drain the engine explicitly or through a real worker process.
os.environ.setdefault("FLOWSYNC_ENGINE_INLINE", "0")

from flowsync.settings import *  # noqa: E402,F403
