"""What every /v2 view shares: who calls, limits, backpressure, idempotency and small helpers.

Request order: size limit → authentication → per-tenant rate limit (429) → backpressure
for views that submit engine commands (503) → the handler. Reads keep working under
backpressure; so do job activation and searches. A view that starts instances also asks
`refuse_start_when_jobs_lag` once it knows the definition (its job types' workers may lag).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from engine import rights
from engine.api.auth import ApiKeyAuthentication, ApiPrincipal
from engine.api.gate import vouched
from engine.api.parsers import LenientJSONParser
from engine.api.problems import (
    IdempotencyKeyReused,
    PayloadTooLarge,
    ResourceExhausted,
)
from engine.api.search import parse_key
from engine.backpressure import backlog, job_lag
from engine.errors import InvalidInput
from engine.models import ProcessDefinition
from engine.rights import Right
from flowsync import idempotency, logs, metrics, ratelimit
from flowsync.models import Tenant

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
class TenantRateThrottle(BaseThrottle):
    """Token bucket per tenant (flowsync.ratelimit); 429 with Retry-After when empty."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            return True
        decision = ratelimit.take(principal.tenant)
        self._wait = decision.retry_after
        if not decision.allowed:
            metrics.api_refused.labels(principal.tenant.tenant_id, "rate_limited").inc()
        return decision.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)




class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [TenantRateThrottle]
    parser_classes = [LenientJSONParser]
    # Views whose writes become engine commands answer 503 under backpressure.
    submits_commands = False
    # Of those, views that start new work (instances), refused first when the engine lags.
    starts_work = False
    # The right (engine.rights) each HTTP method of the view needs; None: any authenticated caller.
    # Every method a view serves must be listed, so a new endpoint cannot forget its rule.
    rights: ClassVar[Mapping[str, Right | None]] = {}
    # Methods whose view checks the right on the process of each act (per-process grants count there).
    per_process: ClassVar[frozenset[str]] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        limit = int(getattr(settings, "FLOWSYNC_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLarge(f"the request body has {length} bytes; this server accepts at most {limit}")
        super().initial(request, *args, **kwargs)
        if isinstance(request.user, ApiPrincipal):
            logs.bind(tenant=request.user.tenant.tenant_id)
        self.check_rights(request)
        if self.submits_commands and request.method not in ("GET", "HEAD", "OPTIONS"):
            if request.method == "POST" and isinstance(request.user, ApiPrincipal):
                # Authenticated and allowed: the gate (engine/api/gate.py) may refuse this caller's next ones.
                vouched.caller(request.META.get("HTTP_AUTHORIZATION", ""), request.path_info,
                               request.user.tenant.tenant_id)
            refused = backlog.refusal(new_work=self.starts_work)
            if refused is not None:
                metrics.api_refused.labels(principal(request).tenant.tenant_id, "backpressure").inc()
                raise ResourceExhausted(refused[0], retry_after=refused[1])

    def check_rights(self, request: Request) -> None:
        """403 unless the caller's role grants the method's right; then the caller sees only the
        tenants where it does (a row of a tenant where its role falls short is a 404)."""
        method = "GET" if request.method == "HEAD" else (request.method or "")
        if method == "OPTIONS" or not hasattr(self, method.lower()):
            return  # OPTIONS, or a 405 that DRF answers next
        if method not in self.rights:
            raise ImproperlyConfigured(f"{type(self).__name__} lists no right for {method}")
        right = self.rights[method]
        who = request.user
        if right is None or not isinstance(who, ApiPrincipal):
            return
        # A view that checks the process of each act (engine.rights.require_on) lets per-process grants in.
        per_process = method in self.per_process
        if not (who.may_somewhere(right) if per_process else who.may(right)):
            roles = sorted(set(who.roles.values())) or ["none"]
            raise PermissionDenied(f"this {who.kind} (role {', '.join(roles)}) may not {RIGHT_NAMES[right]}")
        request.user = who.narrowed(right, per_process)


RIGHT_NAMES = {
    Right.WORK_TASKS: "work user tasks",
    Right.MANAGE_TASKS: "manage other people's user tasks",
    Right.READ: "read instances, definitions, variables, incidents or jobs",
    Right.START: "start instances, publish messages or broadcast signals",
    Right.OPERATE: "cancel instances, set variables, resolve incidents or change jobs",
    Right.DEPLOY: "deploy",
    Right.WORK_JOBS: "activate or answer jobs",
    Right.ADMINISTER: "administer the tenant",
}


# -- helpers --------------------------------------------------------------------------------------
def principal(request: Request) -> ApiPrincipal:
    return request.user  # type: ignore[return-value]


def refuse_start_when_jobs_lag(request: Request, tenant_pk: int, definition: ProcessDefinition | None = None,
                               process_id: str = "", remember: bool = False, tenant_given: str = "") -> None:
    """503 with Retry-After when the jobs of one of the definition's types wait too long for their live
    workers (engine/backpressure.py); the caller has not started anything yet. Without the definition:
    whether the latest one of `process_id` is refused, as far as a start of it seen lately tells (then no
    look-up is needed); `remember`: the definition is its process's latest, found by its id (START on it
    checked) — then, as for a refusal by `process_id`, the gate may refuse the caller's next starts of it
    (`tenant_given`: the request's tenantId, "" when none)."""
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if definition is None:
        refused = job_lag.refused_lately(tenant_pk, process_id)
        if refused is not None:  # a caller without START there gets its 403, as it would have
            require_on(request, Right.START, tenant_pk, process_id, "start instances")
            vouched.start(authorization, tenant_given, process_id, tenant_pk)
    else:
        if remember:
            vouched.start(authorization, tenant_given, definition.bpmn_process_id, tenant_pk)
        refused = job_lag.refusal(tenant_pk, definition, remember=remember)
    if refused is not None:
        metrics.api_refused.labels(principal(request).tenant.tenant_id, "backpressure").inc()
        raise ResourceExhausted(refused[0], retry_after=refused[1])


def require_on(request: Request, right: Right, tenant_pk: int, process_id: str | None, what: str) -> None:
    """403 unless the caller holds `right` in that tenant, tenant-wide or on this process (engine.rights)."""
    rights.require_on(principal(request).rights_in(tenant_pk), right, process_id, what)


def readable(request: Request, process_field: str) -> Q:
    """The rows the caller may read: a tenant's all where its role reads, else those of processes it was
    granted READ on (the rest are not found, like another tenant's)."""
    who, scope = principal(request), Q(pk__in=[])
    for pk in who.tenant_ids:
        processes = who.rights_in(pk).processes(Right.READ)
        limit = {} if processes is None else {f"{process_field}__in": sorted(processes)}
        scope |= Q(tenant_id=pk, **limit)
    return scope


def tenant_for(request: Request, tenant_id: str | None) -> Tenant:
    """The tenant a request acts in: its `tenantId` if the caller has it, else the caller's default."""
    who = principal(request)
    if not tenant_id or tenant_id == who.tenant.tenant_id:
        return who.tenant
    tenant = Tenant.objects.filter(tenant_id=tenant_id, pk__in=who.tenant_ids).first()
    if tenant is None:
        raise PermissionDenied(f"tenant '{tenant_id}' is not assigned to this client")
    return tenant


def valid(serializer_class: type, data: Any) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    plain = getattr(serializer_class, "plain", None)
    attrs = plain(data) if plain is not None else None
    if attrs is not None:
        return attrs
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def path_key(value: str, what: str = "key") -> int:
    return parse_key(value, what)


# -- idempotency ----------------------------------------------------------------------------------
def _canonical_body(request: Request) -> Any:
    files = getattr(request, "FILES", None)
    if files:
        parts = []
        for name in sorted(files):
            for f in files.getlist(name):
                digest = hashlib.sha256()
                for chunk in f.chunks():
                    digest.update(chunk)
                f.seek(0)
                parts.append([name, f.name, digest.hexdigest()])
        fields = sorted([k, v] for k in request.data if k not in files for v in request.data.getlist(k))
        return {"files": parts, "fields": fields}
    return request.data


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    """Honour `Idempotency-Key` on a creating POST; then run the view's `after_commit`, if any.

    The handler runs inside the idempotency transaction, so the stored answer and what the
    request created commit together. `after_commit(request, response)` runs outside any
    transaction, for a replay too (e.g. awaitCompletion waits for the instance there).
    """

    @functools.wraps(method)
    def wrapper(self: ApiView, request: Request, *args: Any, **kwargs: Any) -> Response:
        header = request.headers.get("Idempotency-Key")
        if header is None:
            response = method(self, request, *args, **kwargs)
        else:
            if not idempotency.valid_key(header):
                raise InvalidInput(f"Idempotency-Key must be 1 to {idempotency.MAX_KEY_LENGTH} printable characters")
            fingerprint = idempotency.fingerprint(request.method, request.path, _canonical_body(request))
            first: list[Response] = []

            def handler() -> tuple[int, Any]:
                resp = method(self, request, *args, **kwargs)
                first.append(resp)
                return resp.status_code, resp.data

            try:
                stored, replayed = idempotency.run(principal(request).tenant, header, fingerprint, handler)
            except idempotency.KeyReused as exc:
                raise IdempotencyKeyReused(str(exc)) from None
            if replayed or not first:
                response = Response(stored.body, status=stored.status)
                response["Idempotent-Replayed"] = "true"
            else:
                response = first[0]
        follow = getattr(self, "after_commit", None)
        if follow is not None and 200 <= response.status_code < 300:
            response = follow(request, response)
        return response

    return wrapper
