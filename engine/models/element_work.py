from django.db import models

from flowsync.models import Tenant


class ElementWork(models.Model):
    """What a job and a user task both are: work waiting at one element instance of one process.

    Both carry where they come from (instance, element, definition and its version) so the
    hot queries of workers and the Tasklist never join the instance tables.
    """

    key = models.BigIntegerField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    process_instance_key = models.BigIntegerField()
    element_instance_key = models.BigIntegerField()
    element_id = models.CharField(max_length=255)
    process_definition_key = models.BigIntegerField()
    bpmn_process_id = models.CharField(max_length=255)
    process_definition_version = models.PositiveIntegerField()

    class Meta:
        abstract = True
