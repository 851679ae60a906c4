"""Tenancy and credentials: every engine row points at a Tenant; API keys belong to one."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

DEFAULT_TENANT_ID = "<default>"


class Tenant(models.Model):
    # The Camunda-visible identifier ("<default>" or [\w.-]{1,31}); the integer pk is what rows store.
    tenant_id = models.CharField(max_length=31, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # API rate limit (token bucket in Redis): requests per second and burst; empty = the server defaults.
    api_rate_limit = models.PositiveIntegerField(
        "API requests per second", null=True, blank=True, help_text="Empty: the server default (0 = unlimited)."
    )
    api_burst = models.PositiveIntegerField(
        "API burst", null=True, blank=True, help_text="Requests allowed at once; empty: twice the rate."
    )
    # History cleanup (engine/store/retention.py): finished instances older than this are deleted.
    history_retention_days = models.PositiveIntegerField(
        "keep finished instances (days)", default=30, help_text="0 = keep forever."
    )
    # A suspended tenant: its API answers 403, the engine activates none of its jobs and fires
    # none of its timers until it is resumed (flowsync.tenancy.suspend / resume, audited).
    suspended = models.BooleanField(default=False)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return self.tenant_id


class Role(models.TextChoices):
    """A person's or a client's role in one tenant; what each may do is engine.rights.ROLE_RIGHTS.

    Issue 12 names the roles admin, operator, developer, task worker, auditor: "developer" is the
    integrator and "task worker" the member (the stored values predate that list; the labels say both)."""

    MEMBER = "member", "Member / task worker (works user tasks)"
    AUDITOR = "auditor", "Auditor (reads, changes nothing)"
    OPERATOR = "operator", "Operator"
    INTEGRATOR = "integrator", "Integrator / developer (deploys, runs workers)"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    Role = Role

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


def hash_secret(secret: str) -> str:
    # Secrets are 32 random bytes, not passwords: a fast hash is enough and keeps
    # per-request BASIC auth cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    client_id = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What the key may do in its tenant (engine.rights): integrators deploy, start, run job
    # workers, operate and work user tasks on behalf of people — all of /v2, not the admin.
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.INTEGRATOR)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @classmethod
    def issue(cls, tenant: Tenant, name: str, role: str = Role.INTEGRATOR) -> tuple[ApiKey, str]:
        """Create a key; the plain secret is returned once and never stored."""
        secret = secrets.token_urlsafe(32)
        key = cls.objects.create(
            tenant=tenant, name=name, client_id="fs_" + secrets.token_hex(8), secret_hash=hash_secret(secret),
            role=role,
        )
        return key, secret

    def check_secret(self, secret: str) -> bool:
        return self.revoked_at is None and secrets.compare_digest(self.secret_hash, hash_secret(secret))


class IdempotentResponse(models.Model):
    """The first answer to a creating API request sent with an `Idempotency-Key` header (kept 24 h).

    The same key with the same request gets this answer again and creates nothing; the same
    key with another request is refused (see flowsync.idempotency).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and the canonical request body.
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uniq_idempotency_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_age_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.tenant_id})"


class AuditEntry(models.Model):
    """One change made by a person or a client, written in the same transaction as the change.

    Append-only: no surface updates or deletes these rows (the admin shows them read-only).
    `who` is the actor as recorded on commands ("user:ann", "api:fs_…"); `user_id`/`api_key_id`
    name the account when known (kept as plain integers so deleting an account keeps its trail).
    """

    class Via(models.TextChoices):
        ADMIN = "admin"
        INSPECTOR = "inspector"
        TASKLIST = "tasklist"
        API = "api"
        CLI = "cli"
        OTHER = "other"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    who = models.CharField(max_length=255)
    user_id = models.IntegerField(null=True, blank=True)
    api_key_id = models.IntegerField(null=True, blank=True)
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.OTHER)
    what = models.CharField(max_length=64)  # e.g. "instance.cancel", "incident.resolve", "api-key.rotate"
    target_type = models.CharField(max_length=32, blank=True)
    target_key = models.CharField(max_length=64, blank=True)
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_idx"),
            models.Index(fields=["process_instance_key"], name="audit_instance_idx"),
            models.Index(fields=["what", "-id"], name="audit_what_idx"),
            models.Index(fields=["who", "-id"], name="audit_who_idx"),
            # The admin's search (flowsync.admin.AuditEntryAdmin): by target key or request id.
            models.Index(fields=["target_key"], name="audit_target_idx"),
            models.Index(fields=["request_id"], name="audit_request_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.who} {self.what} {self.target_type} {self.target_key}"


class ProcessAccess(models.Model):
    """One process id of a tenant, across all its versions: the object per-process rights hang on.

    django-guardian grants a tenant's member one of the permissions below on it (flowsync.rights:
    start it, read its instances, operate on them, work its user tasks); they add to the member's
    role in that tenant and only there.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="process_access")
    process_id = models.CharField("process id", max_length=255)

    class Meta:
        verbose_name = "process rights"
        verbose_name_plural = "process rights"
        constraints = [models.UniqueConstraint(fields=["tenant", "process_id"], name="uniq_process_access")]
        permissions = [
            ("read_process", "read its instances, incidents and jobs"),
            ("start_process", "start instances"),
            ("operate_process", "operate on its instances (cancel, set variables, modify, resolve, retry)"),
            ("work_process_tasks", "work its user tasks (as if offered to them)"),
        ]

    def __str__(self) -> str:
        return f"{self.process_id} @ {self.tenant_id}"


# Direct foreign keys instead of guardian's generic tables: one indexed join per check.
class ProcessUserGrant(UserObjectPermissionBase):
    content_object = models.ForeignKey(ProcessAccess, on_delete=models.CASCADE, related_name="user_grants")


class ProcessGroupGrant(GroupObjectPermissionBase):
    content_object = models.ForeignKey(ProcessAccess, on_delete=models.CASCADE, related_name="group_grants")
