"""64-bit keys for every engine entity.

PostgreSQL: one sequence that advances by BLOCK; each process takes a block with one
`nextval` and hands its keys out from memory (a sequence never goes back, so a block
is never handed out twice, even after a rollback or a crash).
SQLite (embedded mode): a counter row, reserved inside the caller's transaction and
never cached beyond it, so a rollback cannot hand the same keys out twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from django.db import connection
from django.db.models import F

from engine.models import KeyBlock

BLOCK = 1000
SEQUENCE = "engine_key_seq"
# Camunda-looking keys start high; any positive 64-bit integer would do.
FIRST_KEY = 2251799813685249


class _SequenceBlocks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0
        # A forked child must never hand out its parent's block: the parent still does. (Reset at the fork,
        # not checked per key: os.getpid() per key was ~5% of the engine's CPU.)
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._next, self._end = 0, 0

    def take(self) -> int:
        with self._lock:
            if self._next >= self._end:
                with connection.cursor() as cur:
                    cur.execute(f"SELECT nextval('{SEQUENCE}')")
                    start = cur.fetchone()[0]
                self._next, self._end = start, start + BLOCK
            key = self._next
            self._next += 1
            return key


_blocks = _SequenceBlocks()


def _take_sqlite() -> int:
    updated = KeyBlock.objects.filter(pk=1).update(next_key=F("next_key") + 1)
    if not updated:
        KeyBlock.objects.create(pk=1, next_key=FIRST_KEY + 1)
        return FIRST_KEY
    return KeyBlock.objects.values_list("next_key", flat=True).get(pk=1) - 1


def key_taker() -> Callable[[], int]:
    """The function that draws a key on this connection's database."""
    return _blocks.take if connection.vendor == "postgresql" else _take_sqlite


def next_key() -> int:
    if connection.vendor == "postgresql":
        return _blocks.take()
    return _take_sqlite()


class KeySource:
    """Keys for one command's processing, recorded so that replay draws the same ones."""

    def __init__(self, recorded: list[list[int]] | None = None, take: Callable[[], int] | None = None):
        self.runs: list[list[int]] = []
        self._replay = [k for start, count in (recorded or []) for k in range(start, start + count)]
        self._replaying = recorded is not None
        # Decided once per batch by the loop (`key_taker`), else on the first key: the connection proxy's
        # lookup is not free, and most runs' own KeySource never draws one (the loop gives each command its own).
        self._next_key = take or self._first_key

    def _first_key(self) -> int:
        self._next_key = key_taker()
        return self._next_key()

    @property
    def replaying(self) -> bool:
        return self._replaying

    def take(self) -> int:
        if self._replaying:
            key = self._replay.pop(0)
        else:
            key = self._next_key()
        if self.runs and self.runs[-1][0] + self.runs[-1][1] == key:
            self.runs[-1][1] += 1
        else:
            self.runs.append([key, 1])
        return key
