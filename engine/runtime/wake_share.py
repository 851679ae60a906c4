"""Which engine worker answers a wake-up: one per notification instead of all of them.

Every listening worker receives every NOTIFY. When all of them drained on each one, at a low
rate every command cost a claim per worker, all but one of them empty. A notification names the
instance whose command it announces (its payload); each worker holds a numbered slot (a session
advisory lock on its listening connection, released by PostgreSQL when the session ends, kill -9
included), and the worker at position `key % workers` among the live slots answers it. A
notification without a payload (operator actions, a batch that found more work than it could take,
`notify_engine`) wakes every worker.

Nothing depends on this for correctness: whichever worker drains claims every pending command
(SKIP LOCKED), and every worker's sweep re-drives pending commands every interval. A worker that
died is dropped from the others' view at their next sweep; until then its share waits for a sweep.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.db import connection

# Classid of the slot locks (two-key advisory locks: objsubid = 2 in pg_locks): "FLWS".
LOCK_CLASS = 0x464C5753
MAX_SLOTS = 1024

LIVE_SLOTS = (
    "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1"
)


class WakeShare:
    def __init__(self) -> None:
        self.slot: int | None = None
        self.live: list[int] = []

    def take_slot(self, listener: psycopg.Connection) -> None:
        """Hold the lowest free slot for the listening session (call before its LISTEN)."""
        self.slot = None
        for slot in range(MAX_SLOTS):
            if listener.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, slot)).fetchone()[0]:
                self.slot = slot
                break
        self.live = []

    def refresh(self) -> None:
        """Read which slots are held now (the workers listening); at every sweep."""
        with connection.cursor() as cur:
            cur.execute(LIVE_SLOTS, [LOCK_CLASS])
            self.live = [row[0] for row in cur.fetchall()]

    def answers(self, payload: str) -> bool:
        """Whether this worker drains for a notification with this payload."""
        if not payload or self.slot is None or self.slot not in self.live or not settings.ENGINE_WAKE_ONE:
            return True  # a broadcast, or this worker does not know its place: answer, to be safe
        try:
            key = int(payload)
        except ValueError:
            return True
        return self.live[key % len(self.live)] == self.slot
