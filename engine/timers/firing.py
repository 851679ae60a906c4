"""Turning due timers into commands, exactly once, from PostgreSQL.

Due timers are claimed with `FOR UPDATE SKIP LOCKED` and, in the same transaction,
marked triggered (or moved to their next due time) and turned into a command. Two
sweepers never fire one timer twice; a sweeper that dies mid-way rolls back and the
timer is still due for the next one. Timers that fell due while nothing ran fire at
the first sweep after start-up.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from engine.actions.instances import start_instance
from engine.models import Command, ProcessDefinition, Timer
from engine.store.commands import submit
from engine.timers.schedule import next_due
from flowsync.models import Tenant

BATCH = 500


def fire_due_timers(now: datetime, limit: int = BATCH) -> int:
    with transaction.atomic():
        due = list(
            Timer.objects.select_for_update(skip_locked=True)
            .filter(state=Timer.State.ACTIVE, due_at__lte=now)
            # A suspended tenant's timers stay due; they fire at the first sweep after it is resumed.
            .exclude(tenant_id__in=Tenant.objects.filter(suspended=True).values("pk"))
            .order_by("due_at", "key")[:limit]
        )
        for timer in due:
            if timer.process_instance_key is None:
                # Timer start event: a new instance each time it fires.
                definition = ProcessDefinition.objects.select_related("tenant").get(key=timer.process_definition_key)
                if definition.deactivated:  # no new instances of this version: the firing passes
                    _advance(timer)
                    continue
                start_instance(
                    definition.tenant, definition, {}, "timer", timer.due_at, start_element_id=timer.element_id
                )
                _advance(timer)
            else:
                # The engine decides what the timer does (and schedules a cycle's next one).
                timer.state = Timer.State.TRIGGERED
                timer.save(update_fields=["state"])
                submit(
                    timer.tenant_id,
                    timer.process_instance_key,
                    Command.Kind.TRIGGER_TIMER,
                    {
                        "timerKey": str(timer.key),
                        "elementInstanceKey": str(timer.element_instance_key),
                        "elementId": timer.element_id,
                        "dueAt": timer.due_at.isoformat(),
                        "repetitions": timer.repetitions,
                        "spec": timer.spec,
                    },
                    "timer",
                    timer.due_at,
                )
        return len(due)


def _advance(timer: Timer) -> None:
    if timer.repetitions == 1 or not timer.spec:
        timer.state = Timer.State.TRIGGERED
        timer.save(update_fields=["state"])
        return
    timer.due_at = next_due(timer.spec, timer.due_at)
    if timer.repetitions > 1:
        timer.repetitions -= 1
    timer.save(update_fields=["due_at", "repetitions"])
