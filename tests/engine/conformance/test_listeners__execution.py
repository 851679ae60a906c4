"""Execution listeners (`zeebe:executionListeners`): start and end jobs the element waits for, in order."""

from __future__ import annotations

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import activate_jobs, fail_job
from engine.models import Incident, Job
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db

# The listener and task jobs of the file, in the order Camunda 8 creates them on the "high" path.
HIGH_PATH = [
    ("el-process-start", "EXECUTION_LISTENER", "START"),
    ("el-start-end", "EXECUTION_LISTENER", "END"),
    ("el-task-start-1", "EXECUTION_LISTENER", "START"),
    ("el-task-start-2", "EXECUTION_LISTENER", "START"),
    ("el-work", "BPMN_ELEMENT", "UNSPECIFIED"),
    ("el-task-end", "EXECUTION_LISTENER", "END"),
    ("el-gateway-start", "EXECUTION_LISTENER", "START"),
    ("el-sub-start", "EXECUTION_LISTENER", "START"),
    ("el-sub-end-event", "EXECUTION_LISTENER", "START"),
    ("el-sub-end", "EXECUTION_LISTENER", "END"),
    ("el-process-end", "EXECUTION_LISTENER", "END"),
]


def _open_jobs(engine, key: int) -> list[tuple[str, str, str]]:
    return [(j.type, j.kind, j.listener_event_type)
            for j in Job.objects.filter(process_instance_key=key, state="ACTIVATABLE").order_by("key")]


def _work_through(engine, key: int, variables_by_type: dict[str, dict] | None = None) -> list[tuple[str, str, str]]:
    """Complete the one open job at a time, as workers would; return the jobs in the order they appeared."""
    seen = []
    while True:
        jobs = _open_jobs(engine, key)
        if not jobs:
            return seen
        assert len(jobs) == 1, jobs  # the element waits for each listener before the next one exists
        seen.append(jobs[0])
        engine.complete_jobs(jobs[0][0], (variables_by_type or {}).get(jobs[0][0]))


def test_listeners_run_one_at_a_time_in_camunda_order(engine):
    engine.deploy("execution-listeners")
    key = engine.start("execution-listeners", amount=21)
    # The process waits for its start listener before its start event is even activated.
    assert engine.completion_order(key) == []
    assert engine.active(key) == {"execution-listeners": 1}
    seen = _work_through(engine, key, {"el-gateway-start": {"route": "high"}})
    assert seen == HIGH_PATH
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == [
        "StartEvent_1", "Task_Work", "Gateway_Route", "StartEvent_Sub", "EndEvent_Sub", "SubProcess_High",
        "Gateway_Join", "EndEvent_Done", "execution-listeners"]


def test_start_listener_sees_the_input_mappings_and_end_listener_the_outputs(engine):
    engine.deploy("execution-listeners")
    key = engine.start("execution-listeners", amount=21)
    engine.complete_jobs("el-process-start")
    engine.complete_jobs("el-start-end")
    [start] = engine.jobs("el-task-start-1")
    assert engine.job_variables(start)["doubled"] == 42
    engine.complete_jobs("el-task-start-1", {"fromListener": "yes"})
    engine.complete_jobs("el-task-start-2")
    [work] = engine.jobs("el-work")
    assert engine.job_variables(work)["fromListener"] == "yes"  # a start listener's variables reach the work
    engine.complete_jobs("el-work", {"doubled": 43})
    [end] = engine.jobs("el-task-end")
    assert engine.variables(key)["doubled"] == 43  # the output mapping ran before the end listener
    engine.complete_jobs("el-task-end", {"audited": True})
    assert engine.variables(key)["audited"] is True


def test_a_gateway_start_listener_computes_what_the_gateway_decides(engine):
    engine.deploy("execution-listeners")
    key = engine.start("execution-listeners", amount=1)
    seen = _work_through(engine, key, {"el-gateway-start": {"route": "low"}})
    assert [t for t, _, _ in seen] == ["el-process-start", "el-start-end", "el-task-start-1", "el-task-start-2",
                                       "el-work", "el-task-end", "el-gateway-start", "el-process-end"]
    engine.assert_clean_end(key)
    assert "SubProcess_High" not in engine.completed(key)


def test_a_listener_out_of_retries_raises_its_incident_and_resolving_runs_it_again(engine):
    engine.deploy("execution-listeners")
    key = engine.start("execution-listeners", amount=1)
    engine.complete_jobs("el-process-start")
    engine.complete_jobs("el-start-end")
    [job] = activate_jobs([engine.tenant.pk], "el-task-start-1", "w", 60_000, 1, engine.now())
    fail_job([engine.tenant.pk], job.key, 0, "listener broke", None, {}, "test", engine.now())
    drain()
    assert engine.incidents(key) == [("Task_Work", "EXECUTION_LISTENER_NO_RETRIES", "listener broke")]
    assert not engine.jobs("el-task-start-2") and not engine.jobs("el-work")  # nothing ran past it
    incident = Incident.objects.get(process_instance_key=key, state="ACTIVE")
    assert incident.job_key == job.key
    Job.objects.filter(key=job.key).update(retries=1)  # what an operator does before resolving
    resolve_incident([engine.tenant.pk], incident.key, "test", engine.now())
    drain()
    assert engine.incidents(key) == []
    seen = _work_through(engine, key, {"el-gateway-start": {"route": "low"}})
    assert seen[0] == ("el-task-start-1", "EXECUTION_LISTENER", "START")
    engine.assert_clean_end(key)


def test_cancelling_an_instance_withdraws_the_listener_job(engine):
    engine.deploy("execution-listeners")
    key = engine.start("execution-listeners", amount=1)
    engine.complete_jobs("el-process-start")
    engine.complete_jobs("el-start-end")
    [job] = engine.jobs("el-task-start-1")
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    assert engine.state(key) == "TERMINATED"
    assert Job.objects.get(key=job.key).state == "CANCELED"
    assert engine.active(key) == {}
