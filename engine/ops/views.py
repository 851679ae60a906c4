"""/healthz, /readyz, /metrics: plain Django views, no session, no CSRF, no API authentication.

/healthz answers 200 while the process serves requests (no database: a liveness probe must not
restart web processes because PostgreSQL is down). /readyz checks what serving needs and
answers 503 with the failing check named. /metrics is open only when configured: with
FLOWSYNC_METRICS_TOKEN set it asks for `Authorization: Bearer <token>`; with
FLOWSYNC_METRICS_PUBLIC=1 it is open (for a port only the scraper reaches); otherwise 404.
"""

from __future__ import annotations

import hmac
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from engine.ops import checks
from engine.ops.collect import DatabaseCollector
from flowsync import __version__, metrics

STARTED = time.time()


@csrf_exempt
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok", "version": __version__, "pid": os.getpid(),
                         "uptimeSeconds": round(time.time() - STARTED, 1)})


@csrf_exempt
@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    try:
        ok, results = checks.ready()
    except Exception as exc:  # noqa: BLE001 - a probe answers, whatever happens
        ok, results = False, {"error": type(exc).__name__}
    return JsonResponse({"status": "ready" if ok else "unavailable", "checks": results}, status=200 if ok else 503)


@csrf_exempt
@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "FLOWSYNC_METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not getattr(settings, "FLOWSYNC_METRICS_PUBLIC", False):
        return HttpResponse("metrics are off: set FLOWSYNC_METRICS_TOKEN or FLOWSYNC_METRICS_PUBLIC\n", status=404,
                            content_type="text/plain")
    return HttpResponse(metrics.render(DatabaseCollector()), content_type=metrics.CONTENT_TYPE)
