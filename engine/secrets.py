"""Connector secrets: per-tenant named values referenced as `{{secrets.NAME}}` (Camunda 8's syntax).

- Stored encrypted (Fernet) under a key derived from FLOWSYNC_SECRET_KEY (and its fallbacks, so a
  rotated installation key still reads the secrets written under the old one). Write-only: nothing
  here returns a value except `resolve`, which only the connector runner calls.
- Resolved at the moment a connector job runs (engine/connectors/runner.py), in the job's input
  variables only, never written back: variables, commands, events, step logs and incidents hold
  the placeholder text. What comes back (the response, error messages, the step's log) is scrubbed
  of the resolved values before anything is stored (`scrub`).
- Only names the element's own definition mentions are resolved (Camunda 8.9's rule): a process
  variable that carries `{{secrets.DB_PASSWORD}}` (a webhook body, say) cannot pull a secret the
  model never asked for into a request; such a placeholder stays text.
- A referenced name the tenant has not defined fails the job without retries: an incident naming the
  secret (never a value).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from engine.models import ConnectorSecret
from engine.rights import Right
from flowsync.audit import record
from flowsync.models import Tenant

# Who may create, replace and delete a tenant's secrets, on every surface (admin, API): those who configure
# what the tenant's flows call (integrators, admins). Names (never values) are listed to READ.
MANAGE_RIGHT = Right.DEPLOY
PLACEHOLDER = re.compile(r"\{\{\s*secrets\.([A-Za-z0-9_-]+)\s*\}\}")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MASK = "***"
# Values shorter than this are not scrubbed out of responses and messages: replacing every "ab" in a
# response would garble it. Such values still never reach a variable, command or log of our own.
SCRUB_MIN_CHARS = 4
_KDF_LABEL = b"flowsync.connector-secrets.v1\0"


class SecretError(Exception):
    """A referenced secret cannot be used; `names` are the secrets concerned (never values)."""

    def __init__(self, message: str, names: list[str]):
        super().__init__(message)
        self.names = names


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(_KDF_LABEL + str(k).encode()).digest()))
                        for k in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def _decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def check_name(name: str) -> str:
    """The name as stored, or ValueError saying what a name may be."""
    name = (name or "").strip()
    if not NAME.match(name):
        raise ValueError("a secret name is 1-100 letters, digits, '_' or '-' (used as {{secrets.NAME}})")
    return name


def set_secret(tenant: Tenant, name: str, value: str, actor: str) -> bool:
    """Create or replace a secret's value; True if it was new. Audited by name only."""
    name = check_name(name)
    if not value:
        raise ValueError("a secret needs a value")
    with transaction.atomic():
        _, created = ConnectorSecret.objects.update_or_create(
            tenant=tenant, name=name, defaults={"ciphertext": encrypt(value), "updated_by": str(actor)[:255]})
        record(tenant, actor, "secret.create" if created else "secret.update", target_type="connector-secret",
               target_key=name, after={"name": name})
    return created


def delete_secret(tenant: Tenant | int, name: str, actor: str) -> bool:
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    with transaction.atomic():
        deleted, _ = ConnectorSecret.objects.filter(tenant_id=tenant_id, name=name).delete()
        if deleted:
            record(tenant_id, actor, "secret.delete", target_type="connector-secret", target_key=name,
                   before={"name": name})
    return bool(deleted)


def names_in(value: Any) -> set[str]:
    """The secret names a value (any JSON, walked) refers to."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value)) if "{{" in value else set()
    if isinstance(value, dict):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(names_in(v) for v in value)) if value else set()
    return set()


def names_in_definition(mappings: Iterable[dict[str, Any]]) -> set[str]:
    """The names an element's input mappings mention (expression sources and constants alike)."""
    return names_in(json.dumps(list(mappings), default=str))


def resolve(tenant_id: int, value: Any, allowed: set[str]) -> tuple[Any, tuple[str, ...]]:
    """`value` with the placeholders of `allowed` names replaced, and the values used (to scrub with).

    Raises SecretError for a referenced allowed name the tenant lacks or that cannot be decrypted.
    """
    wanted = names_in(value) & allowed
    if not wanted:
        return value, ()
    rows = dict(ConnectorSecret.objects.filter(tenant_id=tenant_id, name__in=sorted(wanted))
                .values_list("name", "ciphertext"))
    missing = sorted(wanted - set(rows))
    if missing:
        listed = ", ".join(f"'{n}'" for n in missing)
        raise SecretError(f"connector secret {listed} is not defined in this tenant: add it in the admin "
                          f"(Connector secrets), then retry the job", missing)
    plain: dict[str, str] = {}
    for name, token in rows.items():
        try:
            plain[name] = _decrypt(token)
        except InvalidToken:
            raise SecretError(f"connector secret '{name}' cannot be decrypted with this installation's key "
                              f"(FLOWSYNC_SECRET_KEY changed?): set its value again", [name]) from None

    def sub(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: plain.get(m.group(1), m.group(0)), text)

    return _walk(value, sub), tuple(plain.values())


def _walk(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fn) for v in value]
    return value


def scrubber(values: Iterable[str]) -> Any:
    """A function that replaces the values (and their URL-encoded forms) with MASK in any JSON value."""
    forms = sorted({f for v in values if len(v) >= SCRUB_MIN_CHARS for f in (v, quote(v, safe=""))},
                   key=len, reverse=True)
    if not forms:
        return lambda value: value
    pattern = re.compile("|".join(re.escape(f) for f in forms))

    def scrub(value: Any) -> Any:
        return _walk(value, lambda text: pattern.sub(MASK, text))

    return scrub
