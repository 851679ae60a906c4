"""Operations over many rows started by an operator (admin, CLI): one row per batch, its progress
and its result (done / skipped / failed with reasons), filled in by a background job."""

from __future__ import annotations

from django.db import models

from flowsync.models import Tenant


class BatchOperation(models.Model):
    class Kind(models.TextChoices):
        CANCEL_INSTANCES = "cancel-instances"
        RESOLVE_INCIDENTS = "resolve-incidents"
        RETRY_JOBS = "retry-jobs"
        MIGRATE_INSTANCES = "migrate-instances"
        MODIFY_INSTANCES = "modify-instances"
        SET_VARIABLES = "set-variables"

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        SUSPENDED = "SUSPENDED"  # stopped by an operator; resuming goes on where it stopped
        CANCELED = "CANCELED"  # stopped for good; the keys handled so far stay handled
        DONE = "DONE"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    keys = models.JSONField(default=list)  # the targets, as strings (64-bit keys)
    params = models.JSONField(default=dict, blank=True)  # e.g. {"retries": 3}, a migration plan, variables
    # How the keys were chosen when not one by one (the Inspector's list filter, an API search filter).
    selection = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=255)
    user_id = models.IntegerField(null=True, blank=True)
    via = models.CharField(max_length=16, default="admin")
    request_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    done = models.JSONField(default=list, blank=True)  # keys
    skipped = models.JSONField(default=dict, blank=True)  # key → why (nothing to do: already so)
    failed = models.JSONField(default=dict, blank=True)  # key → problem detail
    created_at = models.DateTimeField()
    # The job running it (a token) and when it last saved progress: a batch whose runner went quiet
    # for STALE seconds is queued again by the engine workers' sweep, and the new runner takes over.
    runner = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "-id"], name="batch_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.progress})"

    @property
    def progress(self) -> str:
        handled = len(self.done) + len(self.skipped) + len(self.failed)
        return f"{handled}/{len(self.keys)}"
