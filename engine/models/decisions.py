"""Deployed DMN decisions and their evaluations (Camunda 8's decision requirements, decision
definitions and decision instances). Every row carries its tenant; keys come from the key sequence."""

from django.db import models

from engine.models.definitions import Deployment
from flowsync.models import Tenant


class DecisionRequirements(models.Model):
    """One deployed .dmn file (its <definitions>, the decision requirements graph), versioned by its id."""

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="decision_requirements")
    decision_requirements_id = models.CharField("decision requirements id", max_length=255)
    # The model's namespace (<definitions namespace>): what another model's <import> names it by.
    namespace = models.CharField(max_length=1000, blank=True, default="")
    name = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField()
    resource_name = models.CharField(max_length=255)
    checksum = models.CharField(max_length=64)
    source = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "decision requirements"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "decision_requirements_id", "version"], name="uniq_drg_version")
        ]
        indexes = [
            models.Index(fields=["tenant", "decision_requirements_id", "-version"], name="drg_latest_idx"),
            models.Index(fields=["tenant", "namespace", "-created_at"], name="drg_namespace_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.decision_requirements_id} v{self.version}"


class DecisionDefinition(models.Model):
    """One decision of a deployed decision requirements graph, versioned by its decision id."""

    class Type(models.TextChoices):
        DECISION_TABLE = "DECISION_TABLE"
        LITERAL_EXPRESSION = "LITERAL_EXPRESSION"
        UNKNOWN = "UNKNOWN"  # boxed contexts, invocations, … (evaluated, but not a Camunda type)

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    requirements = models.ForeignKey(DecisionRequirements, on_delete=models.PROTECT, related_name="decisions")
    decision_id = models.CharField("decision id", max_length=255)
    name = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField()
    version_tag = models.CharField(max_length=255, blank=True)
    decision_type = models.CharField(max_length=24, choices=Type.choices)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "decision_id", "version"], name="uniq_decision_version")
        ]
        indexes = [models.Index(fields=["tenant", "decision_id", "-version"], name="decision_latest_idx")]

    def __str__(self) -> str:
        return f"{self.decision_id} v{self.version}"


class DecisionInstance(models.Model):
    """One decision evaluated in one evaluation (the called decision and each decision it required).

    Camunda names it "{evaluation_key}-{index}" (decisionEvaluationInstanceKey); index 1 is the first
    decision evaluated. Written by a business rule task's step or by POST /v2/decision-definitions/evaluation.
    """

    class State(models.TextChoices):
        EVALUATED = "EVALUATED"
        FAILED = "FAILED"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    evaluation_key = models.BigIntegerField()
    index = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=12, choices=State.choices)
    evaluation_date = models.DateTimeField()
    evaluation_failure = models.TextField(blank=True)
    decision = models.ForeignKey(DecisionDefinition, on_delete=models.PROTECT, related_name="instances")
    root_decision_key = models.BigIntegerField()  # the decision that was called
    process_definition_key = models.BigIntegerField(null=True, blank=True)
    process_instance_key = models.BigIntegerField(null=True, blank=True)
    root_process_instance_key = models.BigIntegerField(null=True, blank=True)
    element_instance_key = models.BigIntegerField(null=True, blank=True)
    element_id = models.CharField(max_length=255, blank=True)
    business_id = models.CharField(max_length=255, blank=True)
    result = models.JSONField(null=True, blank=True)
    # [{"inputId", "inputName", "inputValue"}] and [{"ruleId", "ruleIndex", "evaluatedOutputs": [...]}]
    inputs = models.JSONField(default=list, blank=True)
    matched_rules = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["evaluation_key", "index"], name="uniq_decision_instance")
        ]
        indexes = [
            models.Index(fields=["process_instance_key"], name="decision_inst_pi_idx"),
            models.Index(fields=["tenant", "-evaluation_key"], name="decision_inst_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluation_key}-{self.index}"
