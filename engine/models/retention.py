from django.db import models


class ProcessRetention(models.Model):
    """How long finished instances of one process are kept, overriding the tenant's
    `history_retention_days` (engine/store/retention.py). 0 = keep them forever."""

    tenant = models.ForeignKey("flowsync.Tenant", on_delete=models.CASCADE, related_name="process_retentions")
    bpmn_process_id = models.CharField("process id", max_length=255)
    days = models.PositiveIntegerField("keep finished instances (days)", help_text="0 = keep forever.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "bpmn_process_id"], name="uniq_process_retention")]
        verbose_name = "process retention"

    def __str__(self) -> str:
        return f"{self.bpmn_process_id}: {self.days} days"
