"""Turning due timers into commands, exactly once, from PostgreSQL.

Due timers are claimed with `FOR UPDATE SKIP LOCKED` and, in the same transaction,
marked triggered (or moved to their next due time) and turned into a command. Two
sweepers never fire one timer twice; a sweeper that dies mid-way rolls back and the
timer is still due for the next one. Timers that fell due while nothing ran fire at
the first sweep after start-up.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from django.db import transaction

from engine.actions.instances import start_instance
from engine.definitions.cache import graph_of
from engine.models import Command, ProcessDefinition, Timer
from engine.store.commands import submit
from engine.timers.schedule import first_due, next_due
from flowsync import metrics
from flowsync.models import Tenant

BATCH = 500
# Missed ticks looked at per firing (a long outage is worked through over several sweeps).
MISFIRE_SCAN = 10_000


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
            metrics.timer_lateness_seconds.observe(max(0.0, (now - timer.due_at).total_seconds()))
            if timer.process_instance_key is None:
                # Timer start event: a new instance each time it fires.
                definition = ProcessDefinition.objects.select_related("tenant").get(key=timer.process_definition_key)
                if definition.deactivated:  # no new instances of this version: the firing passes
                    _advance(timer)
                    continue
                if _misfired(timer, definition, now):
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


def _misfired(timer: Timer, definition: ProcessDefinition, now: datetime) -> bool:
    """A JSON flow schedule's misfire policy, for ticks missed while nothing ran; True: this tick is skipped.

    `run_once` (the default): of the ticks due now, only the latest runs. `skip`: a tick a whole
    interval late (the next one is due too) does not run. `catch_up`: each missed tick runs, at most
    `cap` of them (the oldest beyond are dropped). BPMN timer start events keep catching up each tick.
    """
    element = graph_of(definition).elements.get(timer.element_id)
    misfire = (element.props.get("misfire") if element is not None else None) or {}
    if not misfire or not timer.spec:
        return False
    policy, cap = misfire.get("policy", "run_once"), int(misfire.get("cap", 10))
    last, count = timer.due_at, 1
    window: deque[datetime] = deque([last], maxlen=cap)  # the latest `cap` due ticks
    while count < MISFIRE_SCAN and (following := next_due(timer.spec, last)) <= now:
        last, count = following, count + 1
        window.append(last)
    if count == 1:
        return False  # on time (no later tick is due yet)
    if policy == "catch_up":
        timer.due_at = window[0]  # the oldest missed ticks beyond the cap are dropped
        return False
    if policy == "run_once":
        timer.due_at = last  # one run, for the latest due tick, stands for the missed ones
        return False
    timer.due_at = first_due("cycle", timer.spec, now)[0]  # skip: straight to the next tick to come
    timer.save(update_fields=["due_at"])
    return True


def _advance(timer: Timer) -> None:
    if timer.repetitions == 1 or not timer.spec:
        timer.state = Timer.State.TRIGGERED
        timer.save(update_fields=["state"])
        return
    timer.due_at = next_due(timer.spec, timer.due_at)
    if timer.repetitions > 1:
        timer.repetitions -= 1
    timer.save(update_fields=["due_at", "repetitions"])
