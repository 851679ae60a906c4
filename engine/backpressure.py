"""Backpressure: when the engine is saturated, requests that would add work are refused (503 with
Retry-After) instead of queueing without bound. One rule, called by every surface that starts work:
the /v2 API (engine/api/base.py) and webhook deliveries (engine/actions/flows.py).
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings

from engine.connectors.runner import lag_seconds as connector_lag
from engine.queries import status

DEFAULT_BACKLOG_LIMIT = status.BACKPRESSURE_DEFAULT
DEFAULT_ENGINE_LAG_MS = 1000
BACKLOG_CACHE_SECONDS = 0.5


class _Backlog:
    """What saturates, cached briefly per process: the engine's pending commands (a bounded count)
    and its lag (how long the oldest pending command has waited, or the jobs the built-in connectors
    last took, if longer: engine/connectors/runner.py publishes that through Redis).

    Every command-writing request is refused above the pending limit. A request that starts new
    work (an instance) is refused sooner, when the engine lags more than
    FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS: work already running (completions, messages) keeps
    flowing, so the backlog drains, and what is accepted is handed off within about that lag
    instead of queueing without bound behind a saturated machine.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = (0, 0.0)
        self._expires = 0.0

    def _read(self, limit: int) -> tuple[int, float]:
        with self._lock:
            if time.monotonic() < self._expires:
                return self._value
        pending, lag = status.pressure(limit + 1)
        # The built-in connectors' hand-off lag counts too: behind them, new runs wait as jobs.
        value = (pending, max(lag, connector_lag()))
        with self._lock:
            self._value, self._expires = value, time.monotonic() + BACKLOG_CACHE_SECONDS
        return value

    def refusal(self, new_work: bool) -> tuple[str, int] | None:
        """(why, seconds to wait) when the request must be refused, else None."""
        limit = int(getattr(settings, "FLOWSYNC_BACKPRESSURE_PENDING_COMMANDS", DEFAULT_BACKLOG_LIMIT))
        lag_ms = int(getattr(settings, "FLOWSYNC_BACKPRESSURE_ENGINE_LAG_MS", DEFAULT_ENGINE_LAG_MS))
        if limit <= 0 and (lag_ms <= 0 or not new_work):
            return None
        pending, lag = self._read(max(limit, 0))
        if limit > 0 and pending > limit:
            return "the engine has too many pending commands; retry later (reads keep working)", 1
        if new_work and lag_ms > 0 and lag * 1000 > lag_ms:
            return (f"the engine is {lag:.1f} s behind; retry later (work already running goes on)",
                    max(1, math.ceil(lag)))
        return None

    def exceeded(self) -> bool:
        return self.refusal(new_work=False) is not None

    def reset(self) -> None:
        with self._lock:
            self._expires = 0.0


backlog = _Backlog()
