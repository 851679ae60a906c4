"""Backpressure at the door: refuse a start before Django sees it (issue #16).

Under overload most creates are refused, and through Django each refusal cost ~2.5 ms of web CPU
(request object, middleware, DRF, authentication) while completions waited behind them. This WSGI
wrapper (flowsync/wsgi.py) answers those refusals itself — the same 503 `RESOURCE_EXHAUSTED`
problem with `Retry-After` — for ~0.1 ms.

Who is refused is still decided by engine/backpressure.py (`backlog.refusal`, `job_lag.refused_lately`);
the gate only asks it, and only for a request Django has vouched for lately: the same Authorization
header on the same path (and, for a start, the same tenant and process) passed authentication and
rights within FLOWSYNC_API_KEY_RECHECK_SECONDS — the delay after which a revoked key is refused
anyway. Anything the gate is unsure of (an unknown caller, an Idempotency-Key, a body it does not
read plainly, an error) goes to Django unchanged, so the answer is never different from Django's
but for being earlier.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from engine.api.problems import CONTENT_TYPE, problem
from engine.backpressure import backlog, job_lag
from flowsync import metrics
from flowsync.auth.credentials import DEFAULT_RECHECK_SECONDS

CREATE = "/v2/process-instances"
PUBLISH = "/v2/messages/publication"
# Bodies larger than this go to Django unread (a start with large variables is rare under overload).
MAX_BODY = 16 * 1024
# The body of a start the gate reads: a process's latest version by id, with variables. Anything else
# (a key, a version tag, awaitCompletion …) goes to Django, which validates and looks it up.
PLAIN_START = frozenset({"processDefinitionId", "processDefinitionVersion", "variables", "tenantId"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # as flowsync/observe.py: a caller's request id kept


class _Vouched:
    """What Django let through lately, per process: (Authorization, path) → tenant id (for the metric),
    and (Authorization, tenantId given, process id) → tenant pk of a start of the process's latest
    version. Entries live FLOWSYNC_API_KEY_RECHECK_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callers: dict[tuple[str, str], tuple[float, str]] = {}
        self._starts: dict[tuple[str, str, str], tuple[float, int]] = {}

    @staticmethod
    def _ttl() -> float:
        return float(getattr(settings, "FLOWSYNC_API_KEY_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))

    def caller(self, authorization: str, path: str, tenant_id: str) -> None:
        if not authorization or path not in (CREATE, PUBLISH):
            return
        with self._lock:
            if len(self._callers) > 10_000:
                self._callers.clear()
            self._callers[(authorization, path)] = (time.monotonic() + self._ttl(), tenant_id)

    def start(self, authorization: str, tenant_id_given: str, process_id: str, tenant_pk: int) -> None:
        if not authorization:
            return
        with self._lock:
            if len(self._starts) > 10_000:
                self._starts.clear()
            self._starts[(authorization, tenant_id_given, process_id)] = (time.monotonic() + self._ttl(), tenant_pk)

    def caller_tenant(self, authorization: str, path: str) -> str | None:
        found = self._callers.get((authorization, path))
        return found[1] if found is not None and time.monotonic() < found[0] else None

    def start_tenant(self, authorization: str, tenant_id_given: str, process_id: str) -> int | None:
        found = self._starts.get((authorization, tenant_id_given, process_id))
        return found[1] if found is not None and time.monotonic() < found[0] else None

    def reset(self) -> None:
        with self._lock:
            self._callers.clear()
            self._starts.clear()


vouched = _Vouched()


def _plain_start(body: bytes) -> tuple[str, str] | None:
    """(tenantId given or "", process id) of a start of a process's latest version, else None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.keys() <= PLAIN_START:
        return None
    process_id, tenant_id = data.get("processDefinitionId"), data.get("tenantId", "")
    version = data.get("processDefinitionVersion", -1)
    if not isinstance(process_id, str) or not process_id or not isinstance(tenant_id, str):
        return None
    if "tenantId" in data and not tenant_id:  # Django answers 400 to a blank tenantId
        return None
    if type(version) is not int or version != -1 or not isinstance(data.get("variables", {}), dict):
        return None
    return tenant_id, process_id


def _refusal(environ: dict[str, Any], path: str, authorization: str) -> tuple[str, int, str] | None:
    """(why, seconds, tenant id) when engine/backpressure.py refuses this request, as far as the gate can
    tell; else None (Django answers). May replace environ's body stream with the bytes it read."""
    tenant_id = vouched.caller_tenant(authorization, path)
    if tenant_id is None:
        return None
    # What ApiView.initial asks first (after authentication and rights, which vouched stands for).
    refused = backlog.refusal(new_work=path == CREATE)
    if refused is not None:
        return refused[0], refused[1], tenant_id
    if path != CREATE or job_lag.limit_ms() <= 0:  # the job-lag rule off: no need to read the body
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # Django reads it again if the gate lets the request in
    start = _plain_start(body)
    if start is None:
        return None
    tenant_pk = vouched.start_tenant(authorization, *start)
    if tenant_pk is None:
        return None
    refused = job_lag.refused_lately(tenant_pk, start[1])
    return None if refused is None else (refused[0], refused[1], tenant_id)


def wrap(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI application with the gate in front of it."""

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or path not in (CREATE, PUBLISH):
            return app(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization or "HTTP_IDEMPOTENCY_KEY" in environ:  # a replay must get its stored answer
            return app(environ, start_response)
        try:
            refused = _refusal(environ, path, authorization)
        except Exception:  # noqa: BLE001 - unsure: Django answers, and reports what went wrong
            refused = None
        if refused is None:
            return app(environ, start_response)
        why, seconds, tenant_id = refused
        metrics.api_refused.labels(tenant_id, "backpressure").inc()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        body = json.dumps(problem(503, "RESOURCE_EXHAUSTED", why, path)).encode()
        start_response("503 Service Unavailable", [
            ("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))), ("Retry-After", str(seconds)),
            ("X-Request-Id", given if _SAFE_ID.match(given) else uuid.uuid4().hex),
        ])
        return [body]

    return gate
