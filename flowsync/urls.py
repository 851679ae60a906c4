from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView

from engine.api.openapi import DocsView, SchemaView
from engine.api.problems import problem_response
from flowsync.auth.views import LoginView
from flowsync.auth.views import token as oauth_token

urlpatterns = [
    # A landing page naming the four surfaces (README: "The surfaces"); the admin's "View site" leads here.
    path("", TemplateView.as_view(template_name="flowsync/landing.html"), name="home"),
    path("admin/", admin.site.urls),
    # /v2/ itself is no endpoint: a person who types it (the start-up banner prints it) gets the docs.
    path("v2/", RedirectView.as_view(pattern_name="api-docs", permanent=False)),
    path("v2/", include("engine.api.urls")),
    path("api/flows/", include("engine.api.flow_urls")),
    path("oauth/token", oauth_token, name="oauth-token"),
    path("tasks/", include("tasklist.urls")),
    path("inspector/", include("inspector.urls")),
    path("accounts/login/", LoginView.as_view(), name="login"),  # throttled; before Django's own
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(url_name="schema"), name="api-docs"),
    path("", include("engine.ops.urls")),  # /healthz, /readyz, /metrics
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(("/v2/", "/api/flows/")):
        return problem_response(request, 404, "NOT_FOUND", f"no API endpoint at {request.path}")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(("/v2/", "/api/flows/")):
        return problem_response(request, 500, "INTERNAL", "the server failed; the error was logged")
    from django.views.defaults import server_error

    return server_error(request)
