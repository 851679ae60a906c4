from django.db import models

from engine.models.element_work import ElementWork
from flowsync.models import Tenant


class UserTask(ElementWork):
    """A human task waiting in the Tasklist; the engine creates, the Tasklist claims and completes (by command)."""

    class State(models.TextChoices):
        CREATING = "CREATING"  # waiting for its creating task listeners
        CREATED = "CREATED"
        ASSIGNING = "ASSIGNING"  # an assignment waits for its assigning task listeners
        UPDATING = "UPDATING"  # an update waits for its updating task listeners
        COMPLETING = "COMPLETING"
        COMPLETED = "COMPLETED"
        CANCELING = "CANCELING"  # terminated, waiting for its canceling task listeners
        CANCELED = "CANCELED"

    process_name = models.CharField(max_length=255, blank=True)
    business_key = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.CREATED)
    assignee = models.CharField(max_length=255, blank=True)
    candidate_users = models.JSONField(default=list, blank=True)
    candidate_groups = models.JSONField(default=list, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    follow_up_date = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=50)
    # Where the form comes from: "camunda-forms:bpmn:<id>" (embedded), a deployed form id, or a JSON Schema.
    form_key = models.CharField(max_length=255, blank=True)
    form_id = models.CharField(max_length=255, blank=True)
    external_form_reference = models.CharField(max_length=1000, blank=True)
    custom_headers = models.JSONField(default=dict, blank=True)
    creation_date = models.DateTimeField()
    completion_date = models.DateTimeField(null=True, blank=True)
    completed_by = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "assignee", "state", "-creation_date"], name="task_assignee_idx"),
            models.Index(fields=["tenant", "state", "-creation_date"], name="task_state_idx"),
            models.Index(fields=["process_instance_key"], name="task_instance_idx"),
            # Open tasks by due date and by priority (the Tasklist's sorts, engine/queries/tasks.SORTS):
            # a page walks the order and stops, instead of sorting a whole offer.
            # Without the assignee: the same index serves All open, Offered (assignee '' is most open tasks)
            # and, by the planner's choice, not Assigned (a person's few tasks are sorted instead).
            models.Index(fields=["tenant", "due_date", "key"], name="task_open_due_idx",
                         condition=models.Q(state="CREATED")),
            models.Index(fields=["tenant", "priority", "key"], name="task_open_priority_idx",
                         condition=models.Q(state="CREATED")),
            # The process filter: a small process's open tasks are found, not filtered out of every open task
            # (100-140 ms of CPU at 1,000,000); a large one's are walked in creation order.
            models.Index(fields=["tenant", "bpmn_process_id", "-creation_date"], name="task_open_process_idx",
                         condition=models.Q(state="CREATED")),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.element_id} ({self.key})"


class UserTaskCandidate(models.Model):
    """One candidate user or group of an open task: the indexed path for "offered to me"."""

    class Kind(models.TextChoices):
        USER = "user"
        GROUP = "group"

    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="candidates")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    name = models.CharField(max_length=255)

    class Meta:
        indexes = [models.Index(fields=["tenant", "kind", "name", "task"], name="task_candidate_idx")]
