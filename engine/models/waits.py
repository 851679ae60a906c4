"""Wait states other than jobs and user tasks: timers, message and signal subscriptions, buffered messages."""

from django.db import models

from flowsync.models import Tenant


class Timer(models.Model):
    """A due time. The worker's sweeper turns due timers into TRIGGER_TIMER commands exactly once."""

    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        TRIGGERED = "TRIGGERED"
        CANCELED = "CANCELED"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    # Null for a timer start event: it belongs to a definition, not to an instance.
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    element_instance_key = models.BigIntegerField(null=True, blank=True)
    process_definition_key = models.BigIntegerField()
    element_id = models.CharField(max_length=255)
    due_at = models.DateTimeField()
    # Remaining repetitions of a cycle (-1 = unbounded, 0/1 = this is the last one).
    repetitions = models.IntegerField(default=1)
    # The timer expression (cycle/cron) to compute the next due time from.
    spec = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="timer_due_idx", condition=models.Q(state="ACTIVE")),
            models.Index(fields=["process_instance_key"], name="timer_instance_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.element_id} @ {self.due_at:%Y-%m-%d %H:%M:%S}"


class MessageSubscription(models.Model):
    """An element waiting for a message (name + correlation key), or a message start event (no instance)."""

    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        CORRELATED = "CORRELATED"
        DELETED = "DELETED"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    element_instance_key = models.BigIntegerField(null=True, blank=True)
    process_definition_key = models.BigIntegerField()
    bpmn_process_id = models.CharField(max_length=255)
    element_id = models.CharField(max_length=255)
    message_name = models.CharField(max_length=255)
    correlation_key = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "message_name", "correlation_key"],
                name="msgsub_lookup_idx",
                condition=models.Q(state="ACTIVE"),
            ),
            models.Index(fields=["process_instance_key"], name="msgsub_instance_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_name} [{self.correlation_key}]"


class Message(models.Model):
    """A published message, buffered until its time to live runs out."""

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    name = models.CharField(max_length=255)
    correlation_key = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Instances (keys as strings) and definitions it already correlated to: at most once each.
    correlated_instances = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "name", "correlation_key", "expires_at"], name="message_buffer_idx"),
            # History cleanup deletes expired messages by it (engine/store/retention.py).
            models.Index(fields=["expires_at"], name="message_expiry_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name", "message_id"],
                name="uniq_message_id",
                condition=~models.Q(message_id=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.correlation_key}]"


class SignalSubscription(models.Model):
    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        DELETED = "DELETED"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    element_instance_key = models.BigIntegerField(null=True, blank=True)
    process_definition_key = models.BigIntegerField()
    element_id = models.CharField(max_length=255)
    signal_name = models.CharField(max_length=255)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "signal_name"], name="signal_lookup_idx", condition=models.Q(state="ACTIVE")
            ),
            models.Index(fields=["process_instance_key"], name="signal_instance_idx"),
        ]

    def __str__(self) -> str:
        return self.signal_name
