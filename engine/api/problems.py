"""Every API error as RFC 9457 problem details with all five fields the Camunda client requires."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from engine.actions import ActionError
from engine.bpmn import DefinitionError

PROBLEM_TYPE = "about:blank"


def problem(status: int, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail, "instance": instance, **extra}


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
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        title, detail = "INVALID_ARGUMENT", "; ".join(_flatten(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        title, detail = "INVALID_ARGUMENT", f"request body is not valid: {exc.detail}"
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        title, detail = "UNAUTHORIZED", str(exc.detail)
    else:
        title, detail = type(exc).__name__.upper(), str(getattr(exc, "detail", exc))
    body = problem(response.status_code, title, detail, path)
    new = _respond(body, response.status_code)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            new[header] = response[header]
    return new


def _respond(body: dict[str, Any], status: int | None = None) -> Response:
    return Response(body, status=status or body["status"], content_type="application/problem+json")


def problem_response(request: Any, status: int, title: str, detail: str) -> JsonResponse:
    """For Django-level errors (unknown URL, server error) under the API prefix."""
    return JsonResponse(
        problem(status, title, detail, request.path), status=status, content_type="application/problem+json"
    )
