from django.db import models

from flowsync.models import Tenant


class Command(models.Model):
    """A request to change one process instance, applied by the engine loop.

    Written in the same transaction as the caller's effects; applied once, in one
    transaction with its state changes and Event row. `created_at` is the clock the
    processor uses and `keys` the keys it drew, so replay reproduces the same state.
    """

    class Kind(models.TextChoices):
        """Every kind of command; engine/runtime/processors.py maps each to its processor."""

        CREATE_INSTANCE = "CREATE_INSTANCE"
        COMPLETE_JOB = "COMPLETE_JOB"
        COMPLETE_USER_TASK = "COMPLETE_USER_TASK"
        ASSIGN_USER_TASK = "ASSIGN_USER_TASK"
        UPDATE_USER_TASK = "UPDATE_USER_TASK"  # due/follow-up date, candidates, priority (PATCH /v2/user-tasks)
        CHILD_COMPLETED = "CHILD_COMPLETED"
        CHILD_ERROR = "CHILD_ERROR"
        CHILD_ESCALATION = "CHILD_ESCALATION"  # an escalation a child instance did not catch
        CHILD_TERMINATED = "CHILD_TERMINATED"  # a child instance ended terminated (its call activity may wait)
        CANCEL_INSTANCE = "CANCEL_INSTANCE"
        JOB_FAILED = "JOB_FAILED"
        THROW_ERROR = "THROW_ERROR"
        RESOLVE_INCIDENT = "RESOLVE_INCIDENT"
        SET_VARIABLES = "SET_VARIABLES"
        TRIGGER_TIMER = "TRIGGER_TIMER"
        CORRELATE_MESSAGE = "CORRELATE_MESSAGE"
        TRIGGER_SIGNAL = "TRIGGER_SIGNAL"
        CONTINUE = "CONTINUE"  # an instance that used its step budget picks its work up again
        MODIFY_INSTANCE = "MODIFY_INSTANCE"  # activate / terminate elements (engine/runtime/modification.py)
        MIGRATE_INSTANCE = "MIGRATE_INSTANCE"  # to another definition (engine/runtime/migration.py)

    class State(models.TextChoices):
        PENDING = "PENDING"
        PROCESSED = "PROCESSED"
        REJECTED = "REJECTED"
        FAILED = "FAILED"

    id = models.BigAutoField(primary_key=True)
    # No index of its own: cmd_tenant_idx (tenant, id) leads with it and also serves the admin's list of a
    # tenant's commands newest first (the table takes a row per API call: one index, not two).
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, db_index=False)
    process_instance_key = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    actor = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    keys = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # W3C traceparent of the request or engine command that wrote it: the engine's span for this command
    # joins that trace (flowsync/tracing.py); '' when tracing is off.
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="cmd_pending_idx", condition=models.Q(state="PENDING")),
            models.Index(
                fields=["process_instance_key", "id"],
                name="cmd_pending_instance_idx",
                condition=models.Q(state="PENDING"),
            ),
            models.Index(fields=["process_instance_key", "id"], name="cmd_instance_idx"),
            models.Index(fields=["tenant", "id"], name="cmd_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.id}"


class Event(models.Model):
    """Append-only record of what one command did to one instance (its timeline)."""

    id = models.BigAutoField(primary_key=True)
    # No index: events are read by instance only (event_instance_idx); an index on the tenant cost
    # every command a write that nothing on the hot path (or anywhere but deleting a tenant) reads.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, db_index=False)
    process_instance_key = models.BigIntegerField()
    command_id = models.BigIntegerField(null=True)
    command_kind = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    # [{"intent": "ELEMENT_ACTIVATED", "elementId": ..., "key": ..., ...}, ...] in order.
    records = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["process_instance_key", "id"], name="event_instance_idx")]

    def __str__(self) -> str:
        return f"{self.command_kind} @ {self.process_instance_key}"
