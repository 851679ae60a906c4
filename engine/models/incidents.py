from django.db import models

from flowsync.models import Tenant


class Incident(models.Model):
    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        RESOLVED = "RESOLVED"

    key = models.BigIntegerField(primary_key=True)
    # No index of its own: incident_state_idx (tenant, state) leads with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, db_index=False)
    process_instance_key = models.BigIntegerField()
    process_definition_key = models.BigIntegerField()
    bpmn_process_id = models.CharField(max_length=255)
    element_instance_key = models.BigIntegerField()
    element_id = models.CharField(max_length=255)
    job_key = models.BigIntegerField(null=True, blank=True)
    error_type = models.CharField(max_length=40)
    error_message = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "state"], name="incident_state_idx"),
            models.Index(fields=["process_instance_key"], name="incident_instance_idx"),
            # The dashboard's incidents opened per hour.
            models.Index(fields=["tenant", "created_at"], name="incident_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.error_type} ({self.key})"


# Camunda's incident error types (the API's enum; the admin's error-type filter lists them).
ERROR_TYPES = frozenset(
    {
        "JOB_NO_RETRIES", "UNHANDLED_ERROR_EVENT", "IO_MAPPING_ERROR", "CONDITION_ERROR", "EXTRACT_VALUE_ERROR",
        "CALLED_ELEMENT_ERROR", "CALLED_DECISION_ERROR", "DECISION_EVALUATION_ERROR", "FORM_NOT_FOUND",
        "RESOURCE_NOT_FOUND", "MESSAGE_SIZE_EXCEEDED", "EXECUTION_LISTENER_NO_RETRIES", "TASK_LISTENER_NO_RETRIES",
        "AD_HOC_SUB_PROCESS_NO_RETRIES", "SECRET_RESOLUTION_ERROR", "UNKNOWN", "UNSPECIFIED",
    }
)
