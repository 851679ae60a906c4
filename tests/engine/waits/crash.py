"""Helpers of the crash tests that kill engine workers while they wait on a row lock."""

from __future__ import annotations

from django.db import connection

from engine.models import Event


def records(key: int, intent: str) -> int:
    """How many event records of this intent the instance has: a duplicate shows as 2."""
    return sum(1 for e in Event.objects.filter(process_instance_key=key) for r in e.records if r["intent"] == intent)


def blocked_backends() -> int:
    """Backends of the test database waiting for a lock (an engine worker blocked at its flush)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")
        return cur.fetchone()[0]
