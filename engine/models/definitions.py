from django.db import models

from flowsync.models import Tenant


class Deployment(models.Model):
    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return str(self.key)


class ProcessDefinition(models.Model):
    class Kind(models.TextChoices):
        BPMN = "bpmn", "BPMN"
        DAG = "dag", "JSON DAG"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="definitions")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.BPMN)
    bpmn_process_id = models.CharField("process id", max_length=255)
    name = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField()
    version_tag = models.CharField(max_length=255, blank=True)
    resource_name = models.CharField(max_length=255)
    checksum = models.CharField(max_length=64)
    source = models.TextField()
    # The compiled, validated executable graph (engine.graph.Graph as JSON): parsed once.
    graph = models.JSONField()
    created_at = models.DateTimeField()
    # Deactivated by an operator: no new instances of this version (running ones go on).
    deactivated = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bpmn_process_id", "version"], name="uniq_definition_version")
        ]
        indexes = [models.Index(fields=["tenant", "bpmn_process_id", "-version"], name="def_latest_idx")]

    def __str__(self) -> str:
        return f"{self.bpmn_process_id} v{self.version}"


class DefinitionCounts(models.Model):
    """Finished instances per definition, counted periodically (engine/store/definition_counts.py) so the
    Definitions pages need no scan over the whole history per view; running ones are counted live. With them,
    the time from start to end of the recently completed instances (p50/p99), for the charts."""

    definition = models.OneToOneField(ProcessDefinition, primary_key=True, on_delete=models.CASCADE,
                                      related_name="counts")
    completed = models.BigIntegerField(default=0)
    terminated = models.BigIntegerField(default=0)
    counted_at = models.DateTimeField()
    # Seconds from start to end of the instances completed in the window before counted_at (at most the latest
    # definition_counts.DURATION_SAMPLE of them); None when none completed in it. `durations`: how many.
    duration_p50 = models.FloatField(null=True, blank=True)
    duration_p99 = models.FloatField(null=True, blank=True)
    durations = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.definition_id}: {self.completed} completed, {self.terminated} terminated"
