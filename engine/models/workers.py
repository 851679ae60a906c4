from django.db import models


class WorkerHeartbeat(models.Model):
    """One engine worker process: written when it starts, every few seconds while it lives, and
    when it stops. A row whose `last_seen` is older than FLOWSYNC_HEARTBEAT_LOST_SECONDS and that
    never stopped is a lost worker (killed, frozen, or its host gone). Times come from PostgreSQL's
    clock, so hosts with drifting clocks do not look lost.
    """

    id = models.CharField(primary_key=True, max_length=200)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    version = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    commands_applied = models.BigIntegerField(default=0)
    # Commands in the batch being applied at the last beat; 0 between batches.
    current_batch = models.IntegerField(default=0)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return self.id

