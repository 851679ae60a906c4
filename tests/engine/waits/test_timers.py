from __future__ import annotations

import pytest

from engine.actions.jobs import activate_jobs, complete_job
from engine.models import Incident, ProcessInstance, Timer
from engine.runtime.loop import drain
from flowsync import metrics

pytestmark = pytest.mark.django_db


def test_intermediate_timer_waits_for_its_duration(engine):
    engine.deploy("timers.bpmn")
    key = engine.start("timers", delay="PT10M")
    assert engine.active(key) == {"timers", "Wait"}
    timer = Timer.objects.get(element_id="Wait")
    assert timer.due_at == engine.now.replace(minute=10)
    engine.advance(minutes=9)
    assert engine.active(key) == {"timers", "Wait"}
    engine.advance(minutes=1)
    assert engine.active(key) == {"timers", "Work"}
    assert Timer.objects.get(element_id="Wait").state == "TRIGGERED"


def test_a_timer_fired_late_is_measured_by_its_lateness(engine):
    engine.deploy("timers.bpmn")
    engine.start("timers", delay="PT10M")
    before = dict(metrics.histogram_buckets(metrics.timer_lateness_seconds))
    engine.advance(minutes=10, seconds=2)  # the sweep came 2 s after the timer was due
    after = dict(metrics.histogram_buckets(metrics.timer_lateness_seconds))
    grew = {bound: after[bound] - before.get(bound, 0) for bound in after}
    assert grew[float("inf")] == 1 and grew[2.5] == 1 and grew[1.0] == 0


def test_bad_timer_expression_is_an_incident(engine):
    engine.deploy("timers.bpmn")
    key = engine.start("timers", delay="ten minutes")
    incident = Incident.objects.get(process_instance_key=key)
    assert incident.error_type == "EXTRACT_VALUE_ERROR" and incident.element_id == "Wait"


def test_non_interrupting_cycle_fires_its_repetitions_and_interrupting_deadline_cancels(engine):
    engine.deploy("timers.bpmn")
    key = engine.start("timers", delay="PT1S")
    engine.advance(seconds=1)
    assert engine.active(key) == {"timers", "Work"}
    engine.advance(minutes=1)
    engine.advance(minutes=1)
    engine.advance(minutes=1)  # R2: only two reminders
    assert engine.completed(key).count("Reminded") == 2
    assert engine.active(key) == {"timers", "Work"}
    engine.advance(hours=1)
    assert engine.state(key) == "COMPLETED"
    assert "TimedOut" in engine.completed(key)
    assert not Timer.objects.filter(state="ACTIVE").exists()


def test_completing_the_task_withdraws_its_boundary_timers(engine):
    engine.deploy("timers.bpmn")
    key = engine.start("timers", delay="PT1S")
    engine.advance(seconds=1)
    (job,) = activate_jobs([engine.tenant.pk], "work", "w", 60_000, 1, engine.now)
    complete_job([engine.tenant.pk], job.key, None, "w", engine.now)
    drain()
    assert engine.state(key) == "COMPLETED"
    assert set(Timer.objects.filter(element_id__in=["Remind", "Deadline"]).values_list("state", flat=True)) == {
        "CANCELED"}


def test_a_due_timer_fires_once_even_with_concurrent_sweepers(engine, django_db_blocker):
    engine.deploy("timer-start.bpmn")
    from engine.timers.firing import fire_due_timers

    later = engine.now.replace(minute=1)
    assert fire_due_timers(later) == 1
    assert fire_due_timers(later) == 0  # already moved to its next due time
    drain()
    assert ProcessInstance.objects.filter(state="COMPLETED").count() == 1
    assert fire_due_timers(later.replace(minute=2)) == 1
    assert fire_due_timers(later.replace(minute=5)) == 0  # R2: done
    drain()
    assert ProcessInstance.objects.count() == 2
    assert Timer.objects.get().state == "TRIGGERED"
