"""Writing engine worker heartbeats (engine/models/workers.py), stamped with the database's clock."""

from __future__ import annotations

import datetime

from django.db.models.functions import Now

from engine.models import WorkerHeartbeat


def register(worker_id: str, host: str, pid: int, version: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        id=worker_id,
        defaults={"host": host[:255], "pid": pid, "version": version[:40], "started_at": Now(), "last_seen": Now(),
                  "stopped_at": None, "commands_applied": 0, "current_batch": 0},
    )


def beat(worker_id: str, commands_applied: int, current_batch: int) -> None:
    WorkerHeartbeat.objects.filter(id=worker_id).update(
        last_seen=Now(), commands_applied=commands_applied, current_batch=current_batch)


def stopped(worker_id: str, commands_applied: int) -> None:
    WorkerHeartbeat.objects.filter(id=worker_id).update(
        last_seen=Now(), stopped_at=Now(), commands_applied=commands_applied, current_batch=0)


def forget_older_than(cutoff: datetime.datetime) -> int:
    """Rows of workers gone (stopped or lost) since before `cutoff`: nothing left to show."""
    return WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()[0]
