from django.db import models

from flowsync.models import Tenant


class BatchOperation(models.Model):
    """One operation over many instances or incidents (a search result), run in chunks in the background.

    Its items are fixed when it is created; each item is done in the same transaction that marks it
    DONE or FAILED, so a crashed run resumes with the PENDING ones and never does one twice.
    """

    class Kind(models.TextChoices):
        CANCEL_PROCESS_INSTANCE = "CANCEL_PROCESS_INSTANCE"
        RESOLVE_INCIDENT = "RESOLVE_INCIDENT"

    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        COMPLETED = "COMPLETED"
        CANCELED = "CANCELED"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    actor = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=1000, blank=True)  # the filter it was made from, for people
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class BatchOperationItem(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"
        DONE = "DONE"
        FAILED = "FAILED"
        SKIPPED = "SKIPPED"  # the batch was cancelled before this item ran

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(BatchOperation, on_delete=models.CASCADE, related_name="items")
    item_key = models.BigIntegerField()  # a process instance key or an incident key, by the batch's kind
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "item_key"], name="uniq_batch_item")]
        indexes = [models.Index(fields=["batch", "id"], name="batch_item_pending_idx",
                                condition=models.Q(state="PENDING"))]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.item_key}"
