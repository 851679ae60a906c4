"""The outermost middleware: a request id, the log context, and HTTP metrics per route.

The route label is the URL pattern that matched (`v2/jobs/<str:key>/completion`), never the
path itself, so the label set stays bounded; a path no pattern matched counts as `unmatched`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from opentelemetry.trace import SpanKind

from flowsync import logs, metrics, tracing

REQUEST_ID_HEADER = "X-Request-Id"
access = logging.getLogger("flowsync.access")
# A caller's (or proxy's) request id is kept when it is short and plain; otherwise a new one.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestObservationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Not cleared on the way out: Django logs a 4xx/5xx after the middleware returns, and
        # that line should still name the request; `request_finished` clears it (below).
        logs.clear()
        logs.bind(request_id=request_id)
        started = time.perf_counter()
        # A server span per request (tracing on), continuing the caller's W3C traceparent if it sent one.
        with tracing.span(f"{request.method} request", parent=request.headers.get("traceparent", ""),
                          kind=SpanKind.SERVER, **{"http.request.method": request.method,
                                                   "flowsync.request_id": request_id}) as span:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            route = (match.route or match.view_name or "unnamed") if match is not None else "unmatched"
            if span is not None:
                span.update_name(f"{request.method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    tracing.failed(span, f"HTTP {response.status_code}")
        seconds = time.perf_counter() - started
        metrics.http_requests.labels(request.method or "", route, str(response.status_code)).inc()
        metrics.http_seconds.labels(route).observe(seconds)
        response[REQUEST_ID_HEADER] = request_id
        if getattr(settings, "FLOWSYNC_ACCESS_LOG", True):
            # The path without its query string: query strings can carry tokens.
            access.info("%s %s %d %.1fms", request.method, request.path, response.status_code, seconds * 1000,
                        extra={"method": request.method, "path": request.path, "route": route,
                               "status": response.status_code, "duration_ms": round(seconds * 1000, 1)})
        return response


def _forget_request(**kwargs: object) -> None:
    logs.clear()


request_finished.connect(_forget_request, dispatch_uid="flowsync.observe.forget_request")
