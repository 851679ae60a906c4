"""A request that meets a dead database connection is retried once when that is safe, else 503.

After a PostgreSQL restart (or a killed backend, a failover) the web process's
connections are dead. Connections are not health-checked before a request (that cost a
`SELECT 1` per request): a dead one fails the request's first statement, a read, and this
middleware runs the request again on a new connection. It also covers the connection that
dies *during* a request.

Retrying is safe only when nothing the request did can have been committed. Requests
are not atomic (ATOMIC_REQUESTS is off: actions commit their own transactions), so the
middleware watches every statement the request sends. A retry is unsafe after a write
sent outside a transaction (autocommit: it may have committed even if its answer never
came back), after a transaction with writes committed, or when the connection died
during the COMMIT of one (the server may have committed it). A transaction that died
before its COMMIT was rolled back: the request runs again. When unsafe, the answer is
503 with Retry-After, a problem+json on the API and a plain page elsewhere: the client
repeats the request (with its `Idempotency-Key`, on creates).
"""

from __future__ import annotations

import io
import logging
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger("flowsync.db")

RETRY_AFTER_SECONDS = 2
# Statements that change nothing that outlives the session.
_READS = ("SELECT", "SHOW", "SET", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "DECLARE", "FETCH", "CLOSE",
          "LISTEN", "UNLISTEN")
# Writes that are harmless to repeat (bookkeeping that sets a value, never adds to one).
_REPEATABLE = ('UPDATE "flowsync_apikey" SET "last_used_at" = ',)
_FAULTS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
_FAULT_ATTR = "_flowsync_db_fault"
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk I/O error", "unable to open database")


def is_connection_fault(exc: BaseException | None) -> bool:
    """A lost or unusable connection (or a statement the server broke off), anywhere in the cause chain."""
    seen = 0
    while exc is not None and seen < 10:
        sqlite = exc if isinstance(exc, sqlite3.OperationalError) else exc.__cause__
        if isinstance(exc, _FAULTS) and isinstance(sqlite, sqlite3.OperationalError):
            # SQLite reports a bad statement as an OperationalError too: only its transient errors are
            # faults to retry; a syntax error or a missing table is a bug, not a lost connection.
            return str(sqlite).startswith(_SQLITE_TRANSIENT)
        if isinstance(exc, _FAULTS):
            return True
        # Behind PgBouncer, a server connection that died mid-transaction answers the COMMIT with more
        # than one result: the client's protocol state is lost, as with a broken connection.
        if isinstance(exc, psycopg.InternalError) and "results from command" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@receiver(got_request_exception)
def _remember_fault(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Sent while Django turns an uncaught exception into a 500: the exception is the current one.
    if request is not None and is_connection_fault(sys.exc_info()[1]):
        setattr(request, _FAULT_ATTR, sys.exc_info()[1])


class WriteWatch:
    """An execute wrapper: did the request send anything that may have been committed?"""

    def __init__(self) -> None:
        self.unsafe = False  # something may be committed
        self.pending = False  # a transaction holds writes that are not committed (yet)

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        # The first word is enough (a start's statement runs to kilobytes); a statement indented further
        # than this counts as a write, which only forgoes a retry.
        if (self.unsafe or sql[:32].lstrip().upper().startswith(_READS) or sql.startswith(_REPEATABLE)
                or context.get("repeatable")):  # engine/store/sql.execute's statements may say so
            return execute(sql, params, many, context)
        conn = context["connection"]
        if not conn.in_atomic_block:
            self.unsafe = True  # autocommit: committed once sent, whatever happens to the answer
            return execute(sql, params, many, context)
        result = execute(sql, params, many, context)
        self.pending = True
        conn.on_commit(self._committed)
        return result

    def _committed(self) -> None:
        self.unsafe = True

    def may_have_committed(self, fault: BaseException) -> bool:
        return self.unsafe or (self.pending and _during_commit(fault))


def _during_commit(exc: BaseException | None) -> bool:
    """The connection failed inside a COMMIT (Django's backend `_commit`): its outcome is unknown."""
    seen = 0
    while exc is not None and seen < 10:
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name == "_commit" and "django/db/backends" in code.co_filename.replace("\\", "/"):
                return True
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class QuietFaults(logging.Filter):
    """django.request logs the first try's exception as an error with its traceback; the middleware
    retries it or answers 503, so it is a warning of one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_connection_fault(record.exc_info[1]):
            message, fault = record.getMessage(), record.exc_info[1]
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "%s (database connection lost: %s; retried once or answered 503)"
            record.args = (message, fault)
            record.exc_info, record.exc_text = None, None
        return True


class DatabaseFaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        request_log = logging.getLogger("django.request")
        if not any(isinstance(f, QuietFaults) for f in request_log.filters):
            request_log.addFilter(QuietFaults())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        replayable = _keep_body(request)
        response, watch = self._run(request)
        fault = getattr(request, _FAULT_ATTR, None)
        if fault is None:
            return response
        log.warning("database connection lost during %s %s: %s", request.method, request.path, fault)
        if not _drop_dead_connections() or watch.may_have_committed(fault) or not replayable:
            return unavailable(request)
        delattr(request, _FAULT_ATTR)
        _rewind(request)
        response, _ = self._run(request)
        if getattr(request, _FAULT_ATTR, None) is not None:
            _drop_dead_connections()
            return unavailable(request)
        return response

    def _run(self, request: HttpRequest) -> tuple[HttpResponse, WriteWatch]:
        watch = WriteWatch()
        with connections["default"].execute_wrapper(watch):
            return self.get_response(request), watch


def _keep_body(request: HttpRequest) -> bool:
    """Read the body into memory so the request can run twice (False: too big to keep, no retry)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if limit is not None and length > limit:
        return False
    try:
        request.body  # noqa: B018 - caches the body on the request
    except Exception:  # noqa: BLE001 - the view reports a bad body itself
        return False
    return True


def _rewind(request: HttpRequest) -> None:
    body = getattr(request, "_body", None)
    if body is not None:
        request._stream = io.BytesIO(body)  # type: ignore[attr-defined]
        request._read_started = False  # type: ignore[attr-defined]
    for cached in ("_post", "_files", "_cached_user", "_full_data", "_data"):
        request.__dict__.pop(cached, None)


def _drop_dead_connections() -> bool:
    """Close this thread's broken connections so the next query reconnects; False inside a transaction."""
    ok = True
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            ok = False  # e.g. a test's wrapping transaction: nothing can be retried inside it
            continue
        try:
            conn.close()
        except DatabaseError:
            pass
    return ok


def unavailable(request: HttpRequest) -> HttpResponse:
    detail = "the database connection was lost; repeat the request (with the same Idempotency-Key, if any)"
    if request.path.startswith("/v2/") or request.path.startswith("/oauth/"):
        response: HttpResponse = JsonResponse(
            {"type": "about:blank", "title": "SERVICE_UNAVAILABLE", "status": 503, "detail": detail,
             "instance": request.path},
            status=503, content_type="application/problem+json",
        )
    else:
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title><h1>Temporarily unavailable</h1>"
            "<p>The database could not be reached. Please try again in a moment.</p>",
            status=503, content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
