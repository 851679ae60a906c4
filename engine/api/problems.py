"""Every API error as RFC 9457 problem details with all five fields the Camunda client requires.

Titles are stable error codes (Camunda's where it has one): INVALID_ARGUMENT, UNAUTHORIZED,
FORBIDDEN, NOT_FOUND, INVALID_STATE, PAYLOAD_TOO_LARGE, IDEMPOTENCY_KEY_REUSED,
TOO_MANY_REQUESTS, RESOURCE_EXHAUSTED, NOT_AVAILABLE_YET, DEADLINE_EXCEEDED.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from engine.actions import ActionError
from engine.bpmn import DefinitionError

PROBLEM_TYPE = "about:blank"
CONTENT_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail, "instance": instance, **extra}


class ApiProblem(exceptions.APIException):
    """An API-level refusal with its own status, title and optional Retry-After (seconds)."""

    status_code = 400
    title = "INVALID_ARGUMENT"

    def __init__(self, detail: str, retry_after: int | None = None):
        super().__init__(detail)
        self.retry_after = retry_after


class PayloadTooLarge(ApiProblem):
    status_code = 413
    title = "PAYLOAD_TOO_LARGE"


class IdempotencyKeyReused(ApiProblem):
    status_code = 422
    title = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyInProgress(ApiProblem):
    status_code = 409
    title = "IDEMPOTENCY_KEY_IN_USE"


class TooManyRequests(ApiProblem):
    status_code = 429
    title = "TOO_MANY_REQUESTS"


class ResourceExhausted(ApiProblem):
    """Backpressure: the engine's backlog is too long; Camunda signals it with 503 RESOURCE_EXHAUSTED."""

    status_code = 503
    title = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(ApiProblem):
    status_code = 504
    title = "DEADLINE_EXCEEDED"


_TITLES: dict[type, str] = {
    exceptions.NotAuthenticated: "UNAUTHORIZED",
    exceptions.AuthenticationFailed: "UNAUTHORIZED",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "TOO_MANY_REQUESTS",
}


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    path = request.path if request is not None else ""
    if isinstance(exc, DefinitionError):
        body = problem(
            400,
            "INVALID_ARGUMENT",
            str(exc),
            path,
            resource=exc.resource_name,
            problems=[p.as_dict() for p in exc.problems],
        )
        return _respond(body)
    if isinstance(exc, ActionError):
        return _respond(problem(exc.status, exc.title, exc.detail, path, **exc.extra))
    if isinstance(exc, ApiProblem):
        response = _respond(problem(exc.status_code, exc.title, str(exc.detail), path))
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, ResourceExhausted):
            # Backpressure is the server working as designed, counted in flowsync_api_refused_total:
            # not one ERROR log line per refused request when overloaded (Django's request log).
            response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    if isinstance(exc, RequestDataTooBig):
        return _respond(problem(413, "PAYLOAD_TOO_LARGE", "the request body is larger than the server accepts", path))
    if isinstance(exc, TooManyFieldsSent):
        return _respond(problem(400, "INVALID_ARGUMENT", "the request has too many form fields", path))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        title, detail = "INVALID_ARGUMENT", "; ".join(_flatten(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        title, detail = "INVALID_ARGUMENT", f"request body is not valid: {exc.detail}"
    else:
        title = next((t for cls, t in _TITLES.items() if isinstance(exc, cls)), type(exc).__name__.upper())
        detail = str(getattr(exc, "detail", exc))
    body = problem(response.status_code, title, detail, path)
    new = _respond(body, response.status_code)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            new[header] = response[header]
    return new


def _respond(body: dict[str, Any], status: int | None = None) -> Response:
    return Response(body, status=status or body["status"], content_type=CONTENT_TYPE)


def problem_response(request: Any, status: int, title: str, detail: str) -> JsonResponse:
    """For Django-level errors (unknown URL, server error) under the API prefix."""
    return JsonResponse(problem(status, title, detail, request.path), status=status, content_type=CONTENT_TYPE)
