"""Per-node failure policy of connector jobs, carried in task headers (JSON flows write them).

- `flowsync:expectedStatuses`: JSON list of statuses (`404`) or classes (`"2xx"`) an `http` node
  accepts; any other status fails the attempt. Without it: 2xx.
- `flowsync:retryOn`: JSON list of what retries: a status class (`"5xx"`), a status (`"429"`),
  `"timeout"`, `"connection"`, or a connector error code (`"CONNECTION_ERROR"`). A failure that
  matches none fails the node at once (no retries left). Without it: every retryable failure retries.
  For a `job` node (an external worker) the failure's code is the `errorCode` its worker sent with
  the failure, else the first word of its error message when that is a code (`TIMEOUT: ...`) or a
  status (`503 ...`); fail_job (engine/actions/jobs.py) applies it.

Also the masking of what a step's log shows: header and query values whose names look secret.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.connectors.base import ConnectorError

EXPECTED_HEADER = "flowsync:expectedStatuses"
RETRY_ON_HEADER = "flowsync:retryOn"
MASK = "***"
LOG_BODY_CHARS = 500
_SECRET_NAME = re.compile(r"auth|token|secret|passw|key|signature|cookie|session|credential", re.I)
_KINDS = {"TIMEOUT": "timeout", "CONNECTION_ERROR": "connection"}


def _listed(headers: dict[str, str], name: str) -> list[str] | None:
    text = headers.get(name)
    if not text:
        return None
    try:
        return [str(v).lower() for v in json.loads(text)]
    except (ValueError, TypeError):
        return None


def status_matches(status: int, patterns: list[str]) -> bool:
    code = str(status)
    return any(p == code or (p.endswith("xx") and code[0] == p[0]) for p in patterns)


def expected(headers: dict[str, str], status: int) -> bool:
    """Does the node accept this status as a success?"""
    patterns = _listed(headers, EXPECTED_HEADER)
    return 200 <= status < 300 if patterns is None else status_matches(status, patterns)


def retries(headers: dict[str, str], error: ConnectorError) -> bool:
    """Does the node's `retry.on` let this failure retry? (Only retryable failures are asked.)"""
    return code_retries(headers, error.code)


def code_retries(headers: dict[str, str], code: str) -> bool:
    """Does the node's `retry.on` list this error code (a connector's, or what a job's worker reported)?"""
    patterns = _listed(headers, RETRY_ON_HEADER)
    if patterns is None:
        return True
    if code.lower() in patterns or _KINDS.get(code) in patterns:
        return True
    return code.isdigit() and len(code) == 3 and status_matches(int(code), patterns)


# The code an external worker's failure carries when it gives none apart: its message's first word, when
# that word is an error code (`TIMEOUT: ...`, `CONNECTION_ERROR ...`) or an HTTP status (`503 ...`).
_LEADING_CODE = re.compile(r"^\s*([A-Z][A-Z0-9_]*|[1-5][0-9][0-9])(?![A-Za-z0-9_])")


def worker_error_code(given: str, message: str) -> str:
    """The error code of a job failure reported through the job API: the request's `errorCode`, else
    the code the error message starts with, else '' (which no `retry.on` lists)."""
    if given:
        return given.strip()
    found = _LEADING_CODE.match(message or "")
    return found.group(1) if found else ""


def secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def masked(values: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if secret_name(k) else v) for k, v in values.items()}


# The input variables of an HTTP connector element that describe the request it sends.
REQUEST_CONTEXTS = ("headers", "queryParameters", "query")
_AUTH_VALUES = ("password", "token", "value")


def masked_request_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """An HTTP connector element's variables as pages show them: header and query values with secret-looking
    names (Authorization, Cookie, X-Api-Key, ...) and the credentials of `authentication` masked."""
    shown = dict(variables)
    for name in REQUEST_CONTEXTS:
        if isinstance(shown.get(name), dict):
            shown[name] = {k: (MASK if secret_name(str(k)) else v) for k, v in shown[name].items()}
    auth = shown.get("authentication")
    if isinstance(auth, dict):
        shown["authentication"] = {k: (MASK if k in _AUTH_VALUES and v else v) for k, v in auth.items()}
    return shown


def clip(value: Any, limit: int = LOG_BODY_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"
