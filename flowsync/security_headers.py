"""Content-Security-Policy for FlowSync's own pages (Tasklist, Inspector, admin, sign-in).

Every script those pages run is a same-origin static file (htmx and bpmn-js come from
node_modules through the `vendor` static directory, FlowSync's own from static/js), so scripts
are limited to 'self': an injected <script> or on*= attribute does not run. Styles allow
'unsafe-inline' because bpmn-js and htmx set style attributes; a style cannot run script.
Pages outside FLOWSYNC_CSP_PATHS (the API, /api/docs/, the landing page) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
DEFAULT_PATHS = ("/tasks/", "/inspector/", "/admin/", "/accounts/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy = getattr(settings, "FLOWSYNC_CSP", DEFAULT_POLICY)
        self.paths = tuple(getattr(settings, "FLOWSYNC_CSP_PATHS", DEFAULT_PATHS))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (self.policy and request.path.startswith(self.paths)
                and "Content-Security-Policy" not in response):
            response["Content-Security-Policy"] = self.policy
        return response
