"""JSON flow triggers and the webhook deliveries they received (the definitions are ProcessDefinitions)."""

from django.db import models

from engine.models.definitions import ProcessDefinition
from flowsync.models import Tenant


class FlowTrigger(models.Model):
    """A trigger declared in a flow document, kept per flow id across versions (its URL and secret stay)."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        SCHEDULE = "schedule"
        EVENT = "event"

    class Auth(models.TextChoices):
        NONE = "none"
        HMAC = "hmac"
        BEARER = "bearer"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    flow_id = models.CharField(max_length=255)
    trigger_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    # The unguessable path segment of a webhook's URL: /api/flows/hooks/<token>.
    token = models.CharField(max_length=64, unique=True)
    auth = models.CharField(max_length=8, choices=Auth.choices, default=Auth.HMAC)
    secret = models.CharField(max_length=128)
    # The trigger's options as the document wrote them (delivery id header, tolerance, cron ...).
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "flow_id", "trigger_id"], name="uniq_flow_trigger"),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}/{self.trigger_id} ({self.kind})"


class WebhookDelivery(models.Model):
    """Every request a webhook trigger received, whatever became of it."""

    class Outcome(models.TextChoices):
        STARTED = "started"
        DUPLICATE = "duplicate"
        SIGNATURE_BAD = "signature_bad"
        UNAUTHORIZED = "unauthorized"
        REJECTED = "rejected"
        DISABLED = "disabled"
        FILTERED = "filtered"
        RATE_LIMITED = "rate_limited"
        REFUSED = "refused"  # backpressure: the engine was saturated (503), nothing started
        REPLAYED = "replayed"  # an operator ran a recorded delivery again (a new run)

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    trigger = models.ForeignKey(FlowTrigger, on_delete=models.CASCADE, related_name="deliveries")
    received_at = models.DateTimeField()
    delivery_id = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    body_bytes = models.IntegerField(default=0)
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    # Kept for replay when at most FLOWSYNC_WEBHOOK_KEEP_BYTES: the body, and the headers with the
    # values of authentication headers (authorization, signature, cookies, *token*, *key* ...) masked.
    body = models.BinaryField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    content_type = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            # At most one run per delivery id and trigger: the database refuses the second (dedupe).
            models.UniqueConstraint(fields=["trigger", "delivery_id"], name="uniq_delivery_started",
                                    condition=models.Q(outcome="started") & ~models.Q(delivery_id="")),
        ]
        indexes = [
            models.Index(fields=["trigger", "-id"], name="delivery_trigger_idx"),
            models.Index(fields=["process_instance_key"], name="delivery_instance_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_id} {self.outcome} @ {self.received_at:%Y-%m-%d %H:%M:%S}"


class StepLog(models.Model):
    """What a connector sent and got in one attempt of a flow step (truncated, secrets masked)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    process_instance_key = models.BigIntegerField()
    job_key = models.BigIntegerField()
    element_id = models.CharField(max_length=255)
    attempt = models.IntegerField()
    created_at = models.DateTimeField()
    lines = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["process_instance_key", "job_key"], name="steplog_instance_idx")]

    def __str__(self) -> str:
        return f"{self.element_id} attempt {self.attempt}"


class Flow(ProcessDefinition):
    """JSON flow versions (definitions of kind DAG) as the admin lists them: start a run, (de)activate a flow."""

    class Meta:
        proxy = True
        verbose_name = "flow"
