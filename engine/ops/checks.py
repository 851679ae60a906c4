"""Readiness checks: each answers (ok, detail) and never raises; a probe must not become a 500."""

from __future__ import annotations

import functools
import threading
from typing import Any

import redis as redis_client
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from engine.queries import status

PROBE_TIMEOUT_SECONDS = 1.0
_migrated = threading.Event()  # once applied, migrations stay applied for the process's life


def database() -> tuple[bool, dict[str, Any]]:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return True, {}
    except Exception as exc:  # noqa: BLE001
        return False, {"error": _short(exc)}


def redis() -> tuple[bool, dict[str, Any]]:
    if not settings.REDIS_URL:
        return True, {"skipped": "no REDIS_URL (embedded mode)"}
    try:
        _redis(settings.REDIS_URL).ping()
        return True, {}
    except Exception as exc:  # noqa: BLE001
        return False, {"error": _short(exc)}


def migrations() -> tuple[bool, dict[str, Any]]:
    if _migrated.is_set():
        return True, {}
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return False, {"error": _short(exc)}
    if plan:
        return False, {"unapplied": [f"{m.app_label}.{m.name}" for m, _ in plan][:20]}
    _migrated.set()
    return True, {}


def backlog() -> tuple[bool, dict[str, Any]]:
    limit = status.backpressure_limit()
    try:
        if limit <= 0:
            return True, {"limit": 0}
        found = status.backlog(bound=limit + 1)
    except Exception as exc:  # noqa: BLE001
        return False, {"error": _short(exc)}
    return found.pending <= limit, {"pending": found.pending, "limit": limit,
                                    "oldestAgeSeconds": found.oldest_age_seconds}


CHECKS = {"database": database, "redis": redis, "migrations": migrations, "backlog": backlog}


def ready() -> tuple[bool, dict[str, Any]]:
    results = {}
    ok = True
    for name, check in CHECKS.items():
        if name in ("migrations", "backlog") and not results["database"]["ok"]:
            results[name] = {"ok": False, "skipped": "database unreachable"}
            ok = False
            continue
        passed, detail = check()
        results[name] = {"ok": passed, **detail}
        ok = ok and passed
    return ok, results


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis_client.Redis:
    # Its own client with short timeouts: a black-holed Redis must not hang the probe.
    return redis_client.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_SECONDS,
                                       socket_connect_timeout=PROBE_TIMEOUT_SECONDS)


def _short(exc: Exception) -> str:
    # The class only: the probe is unauthenticated, and messages name hosts and users.
    return type(exc).__name__
