"""POST /oauth/token: the OAuth 2.0 client-credentials grant for API keys (RFC 6749 §4.4).

The Camunda client posts `grant_type=client_credentials&client_id=…&client_secret=…&audience=…`
as a form and needs `access_token` and `expires_in` back. Errors carry both the RFC 6749
members (`error`, `error_description`) and the five problem-details members.
"""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from flowsync.auth import throttle
from flowsync.auth.credentials import check_api_key
from flowsync.auth.tokens import issue_token


def _error(request: HttpRequest, status: int, error: str, description: str) -> JsonResponse:
    body = {
        "error": error,
        "error_description": description,
        "type": "about:blank",
        "title": error.upper(),
        "status": status,
        "detail": description,
        "instance": request.path,
    }
    response = JsonResponse(body, status=status, content_type="application/problem+json")
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="flowsync"'
    return response


def _basic_client(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    if len(request.body) > 16 * 1024:
        return _error(request, 400, "invalid_request", "the token request is too large")
    form = request.POST
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        return _error(request, 400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    client = _basic_client(request) or (form.get("client_id", ""), form.get("client_secret", ""))
    client_id, secret = client
    if not client_id or not secret:
        return _error(request, 400, "invalid_request", "send client_id and client_secret")
    key = check_api_key(client_id, secret)
    if key is None:
        # Counted and slowed down, but a right secret always gets its token: guesses with a known
        # client id must not lock the integration out (its secret is not guessable anyway).
        ip = throttle.client_ip(request.META)
        verdict = throttle.check(client_id, ip)
        if not verdict.allowed:
            response = _error(request, 429, "slow_down", "too many failed attempts; wait before trying again")
            response["Retry-After"] = str(verdict.retry_after)
            return response
        throttle.failed(client_id, ip)
        return _error(request, 401, "invalid_client", "unknown client, revoked key or wrong secret")
    access_token, expires_in = issue_token(key)
    response = JsonResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in})
    response["Cache-Control"] = "no-store"
    return response


class LoginView(auth_views.LoginView):
    """Django's login page with the sign-in throttle (flowsync.auth.throttle): 429 + Retry-After."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
        name = str(request.POST.get("username", ""))[:150]
        verdict = throttle.check(name, throttle.client_ip(request.META))
        if not verdict.allowed:
            # An unbound form: binding it would check the password, which is what we refuse to do now.
            form = self.get_form_class()(request)
            context = self.get_context_data(form=form, throttled=True)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(verdict.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        throttle.succeeded(form.get_user().get_username(), throttle.client_ip(self.request.META))
        return super().form_valid(form)

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        throttle.failed(str(self.request.POST.get("username", ""))[:150], throttle.client_ip(self.request.META))
        return super().form_invalid(form)
