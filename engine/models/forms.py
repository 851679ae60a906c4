import json

from django.db import models

from engine.models.definitions import Deployment
from flowsync.models import Tenant


class Form(models.Model):
    """A deployed form resource, linked from user tasks by `zeebe:formDefinition formId`.

    Two dialects, one Tasklist renderer: Camunda Forms (a `.form` file, form-js JSON, id from
    its "id" property) and FlowSync JSON Schema forms (a `.schema.json` file, id from the file
    name). Forms embedded in the BPMN (`zeebe:userTaskForm`) stay with the process graph.
    Versions count per (tenant, form id); redeploying identical content adds no version.
    """

    class Kind(models.TextChoices):
        FORMJS = "formjs", "Camunda form (form-js)"
        JSONSCHEMA = "jsonschema", "JSON Schema form"

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="forms")
    form_id = models.CharField(max_length=255)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    resource_name = models.CharField(max_length=255)
    checksum = models.CharField(max_length=64)
    document = models.JSONField()
    # The file as deployed: its text keeps the author's property order, which a jsonb `document`
    # does not (PostgreSQL sorts object keys), and JSON Schema forms list fields in that order.
    source = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "form_id", "version"], name="uniq_form_version")]
        indexes = [models.Index(fields=["tenant", "form_id", "-version"], name="form_latest_idx")]

    def __str__(self) -> str:
        return f"{self.form_id} v{self.version}"

    @property
    def text(self) -> str:
        """The form document as JSON text in the author's order (rows deployed before `source`
        existed fall back to the stored document)."""
        return self.source or json.dumps(self.document)
