from django.db import models

from engine.models.element_work import ElementWork


class Job(ElementWork):
    class State(models.TextChoices):
        ACTIVATABLE = "ACTIVATABLE"
        ACTIVATED = "ACTIVATED"
        FAILED = "FAILED"
        COMPLETED = "COMPLETED"
        ERROR_THROWN = "ERROR_THROWN"
        CANCELED = "CANCELED"

    # Task header with a JSON flow node's own retry backoff (initial_ms, multiplier, max_ms, jitter).
    BACKOFF_HEADER = "flowsync:backoff"

    class Kind(models.TextChoices):
        BPMN_ELEMENT = "BPMN_ELEMENT"
        EXECUTION_LISTENER = "EXECUTION_LISTENER"
        TASK_LISTENER = "TASK_LISTENER"

    type = models.CharField(max_length=255)
    # What the job is for (Camunda 8 `JobKind`): the element's own work, or one of its listeners;
    # a listener job says at which event (`listenerEventType`: START, END, ...).
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BPMN_ELEMENT,
                            db_default=Kind.BPMN_ELEMENT)
    listener_event_type = models.CharField(max_length=12, default="UNSPECIFIED", db_default="UNSPECIFIED")
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVATABLE)
    retries = models.IntegerField(default=3)
    # Failures reported so far: the exponent of the default retry backoff.
    failures = models.IntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    backoff_until = models.DateTimeField(null=True, blank=True)
    custom_headers = models.JSONField(default=dict, blank=True)
    # Set when a worker activates the job `withLease`: only that activation may answer for it.
    lease_token = models.CharField(max_length=64, blank=True, default="")
    # W3C traceparent of the engine command that created the job: its activation and run join that
    # trace (flowsync/tracing.py); '' when tracing is off.
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")
    error_message = models.TextField(blank=True)
    # One entry per failed attempt: {"attempt", "startedAt", "endedAt", "worker", "error"} (the step history).
    attempts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "type", "key"], name="job_activatable_idx", condition=models.Q(state="ACTIVATABLE")
            ),
            models.Index(fields=["deadline"], name="job_lock_idx", condition=models.Q(state="ACTIVATED")),
            models.Index(fields=["process_instance_key"], name="job_instance_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.key})"
