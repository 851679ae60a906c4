"""The audit trail's one home: who changed what, written in the same transaction as the change.

Actions (engine/actions/*) and the tenancy changes (flowsync.tenancy) call ``record``; surfaces
never write AuditEntry rows themselves and nothing updates or deletes them.

Who and through which surface: an action's ``actor`` stays the plain string it always was
("user:ann", "api:fs_…"); a surface that knows more passes an ``Actor`` (a str carrying the
account ids). The surface and the request id come from the request being served
(``AuditContextMiddleware``) or from ``acting(...)`` around a CLI command or a background job,
so no action signature grows.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from psycopg.types.json import Jsonb

from flowsync.models import AuditEntry, Tenant

Via = AuditEntry.Via


class Actor(str):
    """An actor string (as commands record it) that also names the account behind it."""

    user_id: int | None
    api_key_id: int | None

    def __new__(cls, name: str, *, user_id: int | None = None, api_key_id: int | None = None) -> Actor:
        obj = super().__new__(cls, name)
        obj.user_id, obj.api_key_id = user_id, api_key_id
        return obj

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(f"user:{user.get_username()}", user_id=user.pk)


@dataclass(frozen=True)
class Context:
    via: str
    request_id: str
    user_id: int | None = None
    user: Any = None  # the request's (lazy) user: read only when something is recorded

    def account(self) -> int | None:
        if self.user_id is not None:
            return self.user_id
        user = self.user
        return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


SYSTEM_ACTORS = frozenset({"timer"})

_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar("flowsync_audit", default=None)


def current() -> Context | None:
    return _current.get()


@contextlib.contextmanager
def acting(via: str, request_id: str = "", user_id: int | None = None) -> Iterator[Context]:
    """Everything recorded inside names this surface and request (CLI commands, background jobs)."""
    ctx = Context(via=via, request_id=request_id or uuid.uuid4().hex, user_id=user_id)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def record(
    tenant: Tenant | int | None,
    actor: str,
    what: str,
    *,
    target_type: str = "",
    target_key: Any = "",
    instance_key: int | None = None,
    before: Any = None,
    after: Any = None,
    now: datetime | None = None,
) -> AuditEntry | None:
    """Append one entry in the caller's transaction (so a failed change leaves no entry).

    The engine's own acts (a timer starting an instance) are not a person's or a client's: no entry.
    """
    found = entry(tenant, actor, what, target_type=target_type, target_key=target_key, instance_key=instance_key,
                  before=before, after=after, now=now)
    if found is None:
        return None
    if connection.vendor == "postgresql":
        # Beside every API write: a plain INSERT instead of the ORM's save (as engine.store.commands does).
        with connection.cursor() as cur:
            cur.execute(_INSERT, [getattr(found, f.attname) if f.attname not in ("before", "after")
                                  else (None if getattr(found, f.attname) is None else Jsonb(getattr(found, f.attname)))
                                  for f in _FIELDS])
            found.pk = cur.fetchone()[0]
        found._state.adding = False
    else:
        found.save(force_insert=True)
    return found


def entry(
    tenant: Tenant | int | None,
    actor: str,
    what: str,
    *,
    target_type: str = "",
    target_key: Any = "",
    instance_key: int | None = None,
    before: Any = None,
    after: Any = None,
    now: datetime | None = None,
) -> AuditEntry | None:
    """The entry `record` appends, unsaved, for a caller that inserts it with its own statement (a start
    writes its instance, command and entry in one); None for the engine's own acts."""
    if actor in SYSTEM_ACTORS:
        return None
    ctx = _current.get()
    tenant_id = tenant if isinstance(tenant, int) or tenant is None else tenant.pk
    return AuditEntry(
        tenant_id=tenant_id,
        who=str(actor)[:255],
        user_id=getattr(actor, "user_id", None) or (ctx.account() if ctx else None),
        api_key_id=getattr(actor, "api_key_id", None),
        via=ctx.via if ctx else Via.OTHER,
        what=what,
        target_type=target_type,
        target_key=str(target_key)[:64],
        process_instance_key=instance_key,
        before=before,
        after=after,
        request_id=ctx.request_id if ctx else "",
        created_at=now or timezone.now(),
    )


_FIELDS = [f for f in AuditEntry._meta.concrete_fields if not f.primary_key]
_INSERT = (f"INSERT INTO {AuditEntry._meta.db_table} ({', '.join(f.column for f in _FIELDS)})"
           f" VALUES ({', '.join(['%s'] * len(_FIELDS))}) RETURNING id")


def for_instance(tenant_ids: list[int], instance_key: int) -> list[AuditEntry]:
    """An instance's audit entries, oldest first (for its timeline in the Inspector)."""
    return list(
        AuditEntry.objects.filter(tenant_id__in=tenant_ids, process_instance_key=instance_key).order_by("id")
    )


_SURFACES = (("/admin/", Via.ADMIN), ("/inspector/", Via.INSPECTOR), ("/tasks/", Via.TASKLIST), ("/v2/", Via.API))
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class AuditContextMiddleware:
    """Names the surface and the request id of every change made while serving a request.

    A well-formed incoming `X-Request-ID` is kept (so a proxy's id reaches the trail), else one
    is made; the response carries it back.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        via = next((v for prefix, v in _SURFACES if request.path.startswith(prefix)), Via.OTHER)
        # The id the observation middleware gave the request (logs, the X-Request-Id answer), so that
        # the trail names the same request; made here only without that middleware. (Each made its
        # own before: a request without the header got two different ids, and two uuid4 calls.)
        request_id = getattr(request, "request_id", "")
        if not request_id:
            given = request.headers.get("X-Request-ID", "")
            request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        # An API caller is its Authorization header (its Actor names the key or user); a browser session
        # riding along is not the caller, and reading it cost a session look-up on every API write.
        user = None if via == Via.API else getattr(request, "user", None)
        token = _current.set(Context(via=via, request_id=request_id, user=user))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response.setdefault("X-Request-ID", request_id)
        return response
