from django.db import models

from engine.models.definitions import ProcessDefinition
from flowsync.models import Tenant


class ProcessInstance(models.Model):
    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        COMPLETED = "COMPLETED"
        TERMINATED = "TERMINATED"

    key = models.BigIntegerField(primary_key=True)
    # No single-column indexes on the two foreign keys: the (tenant_id, …) and (definition_id, state)
    # indexes below lead with them and serve the same lookups.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, db_index=False)
    definition = models.ForeignKey(ProcessDefinition, on_delete=models.PROTECT, related_name="instances",
                                   db_index=False)
    business_key = models.CharField(max_length=255, blank=True, db_index=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    has_incident = models.BooleanField(default=False)
    start_date = models.DateTimeField()
    end_date = models.DateTimeField(null=True, blank=True)
    parent_instance_key = models.BigIntegerField(null=True, blank=True)
    parent_element_instance_key = models.BigIntegerField(null=True, blank=True)
    root_instance_key = models.BigIntegerField()

    class Meta:
        indexes = [
            # The Inspector's list: one index per column it sorts on (engine/queries/inspector.SORT_COLUMNS),
            # each ending in the key, so every page is a range scan from its keyset cursor.
            models.Index(fields=["tenant", "state", "start_date", "key"], name="pi_tenant_state_start_idx"),
            models.Index(fields=["tenant", "start_date", "key"], name="pi_tenant_start_idx"),
            models.Index(fields=["tenant", "end_date", "key"], name="pi_tenant_end_idx"),
            models.Index(fields=["tenant", "business_key", "key"], name="pi_tenant_bk_idx"),
            models.Index(fields=["tenant", "definition", "key"], name="pi_tenant_definition_idx"),
            # Instances with an incident (the incident filter and its counts); only they are in it.
            models.Index(fields=["tenant", "start_date", "key"], name="pi_incident_idx",
                         condition=models.Q(has_incident=True)),
            # Called instances of a parent (instance page, parent filter); only children are in it.
            models.Index(fields=["parent_instance_key"], name="pi_parent_idx",
                         condition=models.Q(parent_instance_key__isnull=False)),
            # By definition and state: running counts (the ACTIVE entries), the periodic finished counts, the
            # start-to-end times of the latest completed ones (an end date range) and the running instances'
            # keys for a version's heatmap, each from the index alone (start date and key ride along as
            # trailing columns: INCLUDE would do the same on PostgreSQL, but SQLite warns about it).
            # No dearer to keep than (definition, state) alone: end_date changes only with state.
            models.Index(fields=["definition", "state", "end_date", "start_date", "key"],
                         name="pi_definition_end_idx"),
            # History cleanup (engine/store/retention.py): finished top-level instances by end date,
            # and the call-activity children of a tree (only children are in it: it stays small).
            models.Index(
                fields=["tenant", "end_date"], name="pi_finished_root_idx",
                condition=models.Q(parent_instance_key__isnull=True) & ~models.Q(state="ACTIVE"),
            ),
            models.Index(
                fields=["root_instance_key"], name="pi_child_root_idx",
                condition=models.Q(parent_instance_key__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.key)


class ElementInstance(models.Model):
    class State(models.TextChoices):
        ACTIVE = "ACTIVE"
        COMPLETED = "COMPLETED"
        TERMINATED = "TERMINATED"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    # No index of its own: ei_instance_idx (process_instance, key) leads with it (one index less per row written).
    process_instance = models.ForeignKey(ProcessInstance, on_delete=models.CASCADE, related_name="elements",
                                         db_index=False)
    element_id = models.CharField(max_length=255)
    element_type = models.CharField(max_length=32)
    # The element instance of the enclosing scope (process or subprocess); None for the process itself.
    flow_scope_key = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    start_date = models.DateTimeField()
    end_date = models.DateTimeField(null=True, blank=True)
    incident_key = models.BigIntegerField(null=True, blank=True)
    # Behaviour-specific bookkeeping (e.g. a join's arrivals, a loop counter).
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["process_instance"], name="ei_active_idx", condition=models.Q(state="ACTIVE")),
            models.Index(fields=["process_instance", "key"], name="ei_instance_idx"),
            # The Inspector's "active element" filter: instances with a token waiting at an element.
            models.Index(fields=["tenant", "element_id", "process_instance"], name="ei_active_element_idx",
                         condition=models.Q(state="ACTIVE")),
        ]

    def __str__(self) -> str:
        return f"{self.element_id} ({self.key})"


class Variable(models.Model):
    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    # No index of its own: var_instance_idx (process_instance, name) leads with it.
    process_instance = models.ForeignKey(ProcessInstance, on_delete=models.CASCADE, related_name="variables",
                                         db_index=False)
    scope_key = models.BigIntegerField()
    name = models.CharField(max_length=255)
    value = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope_key", "name"], name="uniq_variable_in_scope")]
        indexes = [models.Index(fields=["process_instance", "name"], name="var_instance_idx")]

    def __str__(self) -> str:
        return self.name
