"""Which database errors count as a lost connection (retried once, else 503): on SQLite only the
transient ones; a bad statement is a bug and must surface as one, not as "database connection lost"."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from django.db import OperationalError

from flowsync.dbfaults import is_connection_fault


def wrapped(cause: BaseException) -> OperationalError:
    """As Django raises it: its own OperationalError with the driver's error as the cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize(("message", "fault"), [
    ("database is locked", True),
    ("disk I/O error", True),
    ('near "(": syntax error', False),
    ("no such table: pg_class", False),
])
def test_sqlite_errors_are_faults_only_when_transient(message, fault):
    assert is_connection_fault(wrapped(sqlite3.OperationalError(message))) is fault


def test_a_lost_postgresql_connection_is_a_fault():
    assert is_connection_fault(wrapped(psycopg.OperationalError("server closed the connection unexpectedly")))
