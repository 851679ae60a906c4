from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.jobs import activate_jobs, complete_job, fail_job, throw_error, update_job
from engine.errors import Conflict
from engine.models import Incident, Job
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def activate(engine, job_type: str = "charge") -> list[Job]:
    return activate_jobs([engine.tenant.pk], job_type, "w", 60_000, 10, engine.now)


def test_fail_with_retries_backs_off_then_runs_out_into_an_incident_and_resolves(engine):
    engine.deploy("retries.bpmn")
    key = engine.start("retries")
    (job,) = activate(engine)
    fail_job([engine.tenant.pk], job.key, 1, "gateway down", 5000, None, "w", engine.now)
    assert activate(engine) == []  # backing off
    engine.now += timedelta(seconds=6)
    (again,) = activate(engine)
    assert again.key == job.key and again.retries == 1
    fail_job([engine.tenant.pk], job.key, 0, "still down", None, None, "w", engine.now)
    drain()
    incident = Incident.objects.get()
    assert (incident.error_type, incident.error_message, incident.job_key) == ("JOB_NO_RETRIES", "still down", job.key)
    assert incident.element_id == "Charge" and engine.state(key) == "ACTIVE"
    # Resolving without retries is refused; with retries the job runs again and the instance goes on.
    with pytest.raises(Conflict):
        resolve_incident([engine.tenant.pk], incident.key, "op", engine.now)
    update_job([engine.tenant.pk], job.key, 3, None, "op", engine.now)
    resolve_incident([engine.tenant.pk], incident.key, "op", engine.now)
    drain()
    assert Incident.objects.get().state == "RESOLVED"
    (third,) = activate(engine)
    complete_job([engine.tenant.pk], third.key, {"paid": True}, "w", engine.now)
    drain()
    assert engine.state(key) == "COMPLETED"
    assert "Paid" in engine.completed(key)


def test_default_backoff_is_exponential_with_a_cap(engine, settings):
    from engine.actions.jobs import retry_backoff

    settings.JOB_BACKOFF_DEFAULT = {"base_ms": 1000, "cap_ms": 10_000, "jitter": 0.0}
    job = Job(type="x", failures=0)
    assert retry_backoff(job, None) == timedelta(seconds=1)
    job.failures = 3
    assert retry_backoff(job, None) == timedelta(seconds=8)
    job.failures = 10
    assert retry_backoff(job, None) == timedelta(seconds=10)
    assert retry_backoff(job, 250) == timedelta(milliseconds=250)


def test_thrown_error_is_caught_by_the_boundary_event(engine):
    engine.deploy("retries.bpmn")
    key = engine.start("retries")
    (job,) = activate(engine)
    throw_error([engine.tenant.pk], job.key, "BAD_CARD", "card declined", {"reason": "expired"}, "w", engine.now)
    drain()
    assert engine.state(key) == "COMPLETED"
    assert "Rejected" in engine.completed(key) and "Paid" not in engine.completed(key)
    assert Job.objects.get().state == "ERROR_THROWN"


def test_uncaught_error_from_a_job_is_an_incident_and_resolving_retries_the_job(engine):
    engine.deploy("retries.bpmn")
    key = engine.start("retries")
    (job,) = activate(engine)
    throw_error([engine.tenant.pk], job.key, "OTHER", "", None, "w", engine.now)
    drain()
    incident = Incident.objects.get()
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    resolve_incident([engine.tenant.pk], incident.key, "op", engine.now)
    drain()
    (again,) = activate(engine)
    assert again.key == job.key
    complete_job([engine.tenant.pk], again.key, None, "w", engine.now)
    drain()
    assert engine.state(key) == "COMPLETED"


def test_expired_lock_makes_the_job_activatable_again(engine):
    engine.deploy("retries.bpmn")
    engine.start("retries")
    (job,) = activate_jobs([engine.tenant.pk], "charge", "w1", 1000, 10, engine.now)
    assert activate_jobs([engine.tenant.pk], "charge", "w2", 1000, 10, engine.now) == []
    later = engine.now + timedelta(seconds=2)
    (again,) = activate_jobs([engine.tenant.pk], "charge", "w2", 1000, 10, later)
    assert again.key == job.key and again.worker == "w2"


def test_late_answer_from_a_worker_whose_lock_expired_is_refused_and_the_job_runs_once(engine):
    engine.deploy("retries.bpmn")
    key = engine.start("retries")
    (job,) = activate_jobs([engine.tenant.pk], "charge", "slow", 1000, 10, engine.now)
    late = engine.now + timedelta(seconds=5)
    with pytest.raises(Conflict):
        complete_job([engine.tenant.pk], job.key, {"by": "slow"}, "slow", late)
    (again,) = activate_jobs([engine.tenant.pk], "charge", "fast", 60_000, 10, late)
    complete_job([engine.tenant.pk], again.key, {"by": "fast"}, "fast", late)
    with pytest.raises(Conflict):
        complete_job([engine.tenant.pk], job.key, {"by": "slow"}, "slow", late)
    drain()
    assert engine.state(key) == "COMPLETED"
    from engine.models import Variable

    assert Variable.objects.get(process_instance_id=key, name="by").value == "fast"
