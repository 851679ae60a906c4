"""Backpressure: when the engine is saturated, requests that would add work are refused (503 with
Retry-After) instead of queueing without bound. One rule, called by every surface that starts work:
the /v2 API (engine/api/base.py, engine/api/views/instances.py) and webhook deliveries
(engine/actions/flows.py).

Two signals: the engine's own backlog (`backlog`: pending commands and their age) and the job workers'
(`job_lag`: how long the jobs of a definition's types wait to be activated, for types with live workers).
The API's gate (engine/api/gate.py) asks the same rules before Django, for callers Django vouched for.
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from django.db import connection

from engine.connectors.runner import lag_seconds as connector_lag
from engine.definitions.cache import graph_of
from engine.models import Job, ProcessDefinition
from engine.queries import status
from flowsync import redis

DEFAULT_BACKLOG_LIMIT = status.BACKPRESSURE_DEFAULT
DEFAULT_ENGINE_LAG_MS = 1000
BACKLOG_CACHE_SECONDS = 0.5
# 250 since the gate made refusals cheap: in overload it held accepted hand-off p99 at 1.0–1.2 s where 500 gave
# 1.35–1.8 s, for as many instances carried (README, session 7).
DEFAULT_JOB_LAG_MS = 250


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
        self._reading = False

    def _read(self, limit: int) -> tuple[int, float]:
        # One thread reads at a time; the others answer from the last reading meanwhile (under overload
        # the statement is slow, and every thread that found the value stale sent it again).
        with self._lock:
            if time.monotonic() < self._expires or self._reading:
                return self._value
            self._reading = True
        try:
            pending, lag = status.pressure(limit + 1)
            # The built-in connectors' hand-off lag counts too: behind them, new runs wait as jobs.
            value = (pending, max(lag, connector_lag()))
            with self._lock:
                self._value, self._expires = value, time.monotonic() + BACKLOG_CACHE_SECONDS
        finally:
            with self._lock:
                self._reading = False
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


# -- job hand-off lag -----------------------------------------------------------------------------
# A job type has live workers while one of them asked for its jobs this recently (a long poll asks
# again at least every requestTimeout, 10 s by default; a busy worker far more often).
LIVE_SECONDS = 15.0
# How often each process marks a type polled (one Redis write per tenant and type, at most), and how
# long it trusts a definition's lag before reading it again.
POLL_MARK_SECONDS = 1.0
JOB_LAG_CACHE_SECONDS = 0.25
# How long a start of a process's latest definition tells its job types to the next starts by process id (a
# new version deployed meanwhile counts after this long).
LATEST_SECONDS = 2.0
POLLED_KEY = "flowsync:jobs:polled:{tenant}:{type}"
# After Redis failed, liveness is left alone this long (a hung Redis must not slow every request).
REDIS_QUIET_SECONDS = 5.0

# Per type, the age of its oldest activatable job that waits for a first activation (a retried one
# waits for its backoff, not for a worker), walking the partial index of activatable jobs in key order.
OLDEST_WAITING = (
    "SELECT t.type, (SELECT extract(epoch FROM statement_timestamp() - j.created_at) FROM engine_job j"
    " WHERE j.state = 'ACTIVATABLE' AND j.tenant_id = %s AND j.type = t.type AND j.failures = 0"
    " AND j.backoff_until IS NULL ORDER BY j.key LIMIT 1) FROM unnest(%s::text[]) AS t(type)"
)


class _JobLag:
    """Refuses new instances of a definition while the jobs of one of its types wait for a worker longer
    than FLOWSYNC_BACKPRESSURE_JOB_LAG_MS — only types that live workers poll: a type nobody works (a
    worker not deployed yet, stopped for the night) queues its jobs without refusing anything, and a
    slow type refuses the starts of its own definitions only. Completions, failures, activations and
    messages are never refused for it: they are what drains the backlog.

    Liveness is shared through Redis (the activation endpoint marks a type polled; any web process may
    answer the create); without Redis, each process knows its own polls only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marked: dict[tuple[int, str], float] = {}  # (tenant pk, type) → when this process marked it
        self._local_polls: dict[tuple[int, str], float] = {}  # without Redis: (tenant pk, type) → when polled
        self._lags: dict[tuple[int, tuple[str, ...]], tuple[float, str, float]] = {}  # → (lag, type, expires)
        self._reading: set[tuple[int, tuple[str, ...]]] = set()  # lags a thread is reading now
        # (tenant pk, process id) → (its latest definition's job types, until when that is trusted)
        self._latest: dict[tuple[int, str], tuple[tuple[str, ...], float]] = {}
        self._quiet_until = 0.0

    @staticmethod
    def limit_ms() -> int:
        return int(getattr(settings, "FLOWSYNC_BACKPRESSURE_JOB_LAG_MS", DEFAULT_JOB_LAG_MS))

    def _redis(self):  # type: ignore[no-untyped-def]
        if not settings.REDIS_URL or time.monotonic() < self._quiet_until:
            return None
        return redis.connection()

    def polled(self, tenant_ids: list[int], job_type: str) -> None:
        """A worker asked for jobs of this type: it has live workers in these tenants. Never raises."""
        if self.limit_ms() <= 0:
            return
        now = time.monotonic()
        with self._lock:
            due = [pk for pk in tenant_ids if now - self._marked.get((pk, job_type), -1e9) >= POLL_MARK_SECONDS]
            for pk in due:
                self._marked[(pk, job_type)] = now
                self._local_polls[(pk, job_type)] = now
        if not due:
            return
        conn = self._redis()
        if conn is None:
            return
        try:
            pipe = conn.pipeline(transaction=False)
            for pk in due:
                pipe.set(POLLED_KEY.format(tenant=pk, type=job_type), "1", ex=int(LIVE_SECONDS))
            pipe.execute()
        except Exception:  # noqa: BLE001 - liveness is then unknown: nothing is refused for it
            self._quiet_until = time.monotonic() + REDIS_QUIET_SECONDS

    def _live(self, tenant_pk: int, types: tuple[str, ...]) -> list[str]:
        conn = self._redis()
        if conn is None:
            if settings.REDIS_URL:
                return []  # Redis is down: liveness is unknown, so no type refuses anything
            now = time.monotonic()
            with self._lock:
                return [t for t in types if now - self._local_polls.get((tenant_pk, t), -1e9) < LIVE_SECONDS]
        try:
            found = conn.mget([POLLED_KEY.format(tenant=tenant_pk, type=t) for t in types])
        except Exception:  # noqa: BLE001 - see polled()
            self._quiet_until = time.monotonic() + REDIS_QUIET_SECONDS
            return []
        return [t for t, mark in zip(types, found, strict=True) if mark is not None]

    @staticmethod
    def _oldest_waiting(tenant_pk: int, types: list[str]) -> dict[str, float]:
        """Seconds the oldest job of each type has waited for its first activation (types with none left out)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(OLDEST_WAITING, [tenant_pk, types])
                return {t: max(0.0, float(age)) for t, age in cur.fetchall() if age is not None}
        now = status.db_now()
        out = {}
        for t in types:
            first = (Job.objects.filter(state=Job.State.ACTIVATABLE, tenant_id=tenant_pk, type=t, failures=0,
                                        backoff_until__isnull=True)
                     .order_by("key").values_list("created_at", flat=True).first())
            if first is not None:
                out[t] = max(0.0, (now - first).total_seconds())
        return out

    def _lag(self, tenant_pk: int, types: tuple[str, ...]) -> tuple[float, str]:
        """(the longest wait among the live types, that type), read at most every JOB_LAG_CACHE_SECONDS, by one
        thread at a time: the others answer from the last reading meanwhile (under overload a reading is
        slow, and every thread that found it stale read it again)."""
        key = (tenant_pk, types)
        with self._lock:
            found = self._lags.get(key)
            if found is not None and (time.monotonic() < found[2] or key in self._reading):
                return found[0], found[1]
            self._reading.add(key)
        worst = ("", 0.0)
        try:
            live = self._live(tenant_pk, types)
            waited = self._oldest_waiting(tenant_pk, live) if live else {}
            worst = max(waited.items(), key=lambda kv: kv[1], default=worst)
        finally:
            with self._lock:
                self._reading.discard(key)
                self._lags[key] = (worst[1], worst[0], time.monotonic() + JOB_LAG_CACHE_SECONDS)
                if len(self._lags) > 10_000:  # bounded: one entry per (tenant, definition's types) started lately
                    self._lags.clear()
        return worst[1], worst[0]

    def _refusal(self, tenant_pk: int, process_id: str, types: tuple[str, ...]) -> tuple[str, int] | None:
        limit = self.limit_ms()
        if limit <= 0 or not types:
            return None
        lag, job_type = self._lag(tenant_pk, types)
        if lag * 1000 <= limit:
            return None
        return (f"jobs of type '{job_type}' wait {lag:.1f} s for a worker; new instances of '{process_id}' are "
                "refused until they catch up (retry later; other processes and work already running go on)",
                max(1, math.ceil(lag)))

    def refusal(self, tenant_pk: int, definition: ProcessDefinition, remember: bool = False) -> tuple[str, int] | None:
        """(why, seconds to wait) when new instances of this definition must be refused, else None.
        `remember`: it is its process's latest definition; `refused_lately` answers for it a moment."""
        if self.limit_ms() <= 0:
            return None
        types = graph_of(definition).job_types()
        if remember:
            with self._lock:
                self._latest[(tenant_pk, definition.bpmn_process_id)] = (types, time.monotonic() + LATEST_SECONDS)
                if len(self._latest) > 10_000:
                    self._latest.clear()
        return self._refusal(tenant_pk, definition.bpmn_process_id, types)

    def refused_lately(self, tenant_pk: int, process_id: str) -> tuple[str, int] | None:
        """The refusal of the process's latest definition, as far as a start of it seen lately tells, without
        looking the definition up: under overload most starts are refused, and each look-up is a statement.
        None when unsure (the caller looks the definition up and asks `refusal`)."""
        with self._lock:
            found = self._latest.get((tenant_pk, process_id))
        if found is None or time.monotonic() >= found[1]:
            return None
        return self._refusal(tenant_pk, process_id, found[0])

    def reset(self, forget_polls: bool = False) -> None:
        """Read the lags again on the next check; with `forget_polls`, no type has live workers (tests)."""
        with self._lock:
            self._lags.clear()
            self._latest.clear()
            self._quiet_until = 0.0
            if not forget_polls:
                return
            self._marked.clear()
            self._local_polls.clear()
        conn = self._redis()
        if conn is not None:
            for key in conn.scan_iter(POLLED_KEY.format(tenant="*", type="*")):
                conn.delete(key)


job_lag = _JobLag()

