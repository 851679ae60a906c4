"""Log lines: JSON objects (one per line) for machines, plain text for a person at a terminal.

`FLOWSYNC_LOG_FORMAT` = `json`, `text` or `auto` (the default: JSON unless stderr is a
terminal). Every line carries what is known about where it came from — request id, tenant,
process instance key, command key, job key — from a context bound by the request middleware
(flowsync/observe.py), the API's authentication (engine/api/base.py) or passed as `extra=`
by the engine. Only those named fields are written: arbitrary `extra` values, request objects,
headers and variable values never reach the output.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The fields a line may carry besides time, level, logger and message.
FIELDS = ("request_id", "tenant", "process_instance_key", "command_key", "job_key", "worker",
          "method", "path", "route", "status", "duration_ms")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("flowsync_log_context", default=None)


_process: dict[str, Any] = {}


def bind_process(**fields: Any) -> None:
    """Fields for every line of this process, all threads (e.g. the engine worker's id)."""
    _process.update({k: v for k, v in fields.items() if k in FIELDS})


def bind(**fields: Any) -> None:
    """Add fields to the current context (this request, this thread)."""
    current = dict(_context.get() or {})
    current.update({k: v for k, v in fields.items() if k in FIELDS and v is not None})
    _context.set(current)


def clear() -> None:
    _context.set(None)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if k in FIELDS}})
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (explicit `extra=` fields win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for fields in (_context.get() or {}, _process):
            for key, value in fields.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = str(value)
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))[-8000:]
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain line, with the context fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None)
        if not extra:
            return text
        head, sep, tail = text.partition("\n")  # keep a traceback below the line
        return f"{head} [{extra}]{sep}{tail}"


def use_json(setting: str) -> bool:
    if setting == "json":
        return True
    if setting == "text":
        return False
    return not sys.stderr.isatty()


def config(setting: str, level: str) -> dict[str, Any]:
    """The LOGGING dict for settings.py."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "flowsync.logs.ContextFilter"}},
        "formatters": {
            "json": {"()": "flowsync.logs.JsonFormatter"},
            "text": {"()": "flowsync.logs.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if use_json(setting) else "text",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # httpx logs every connector request's full URL at INFO, query string (API keys) included.
        "loggers": {"rq.worker": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
    }
