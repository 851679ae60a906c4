"""Multi-instance bodies with escalations and execution listeners (Camunda 8 semantics).

- An escalation thrown inside each instance of a multi-instance subprocess is caught by the boundary event
  of the multi-instance activity: a non-interrupting one fires once per throw and every instance goes on;
  an interrupting one terminates the whole body (every instance) and leaves through the boundary.
- Execution listeners of a multi-instance activity run around each inner instance (start before its work,
  end after it), not around the body; a start listener sees the instance's input element.
"""

from __future__ import annotations

from collections import Counter

import pytest

from engine.actions.jobs import activate_jobs, complete_job
from engine.models import Job
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def test_a_non_interrupting_escalation_in_each_instance_is_caught_once_per_throw(engine):
    engine.deploy("escalation-multi-instance")
    key = engine.start("escalation-multi-instance", levels=["warn", "fine", "warn"], stopCode="STOP")
    engine.assert_clean_end(key)
    done = engine.completed(key)
    assert done["Boundary_Late"] == 2 and done["Task_Notify"] == 2 and done["EndEvent_Notified"] == 2
    assert done["SubProcess_Order"] == 4  # the body and its three instances
    assert done["EndEvent_Done"] == 1 and engine.terminated(key) == Counter()
    assert engine.variables(key)["results"] == [True, False, True]  # each instance its own (local) wentOn
    assert [r["escalationCode"] for r in engine.records(key, "ESCALATION_THROWN")] == ["LATE", "LATE"]


def test_an_interrupting_escalation_in_one_instance_terminates_the_whole_body(engine):
    engine.deploy("escalation-multi-instance")
    key = engine.start("escalation-multi-instance", levels=["fine", "stop", "warn"], stopCode="STOP")
    engine.assert_clean_end(key)
    done = engine.completed(key)
    assert done["Boundary_Any"] == 1 and done["EndEvent_Stopped"] == 1 and "EndEvent_Done" not in done
    # Parallel: all three instances were under way (breadth first, as Zeebe's command queue) when the second
    # threw; the body and all of its instances were terminated, the third never reached its throw.
    assert engine.terminated(key) == Counter({"SubProcess_Order": 4, "EndEvent_Fine": 1, "End_Stop": 1})
    assert "Throw_Late" not in done and "results" not in engine.variables(key)


def test_a_sequential_body_stops_at_the_interrupting_escalation(engine):
    engine.deploy("escalation-multi-instance-sequential")
    key = engine.start("escalation-multi-instance-sequential", levels=["warn", "stop", "fine"], stopCode="STOP")
    engine.assert_clean_end(key)
    done = engine.completed(key)
    # The first instance escalated (non-interrupting) and finished; the second stopped everything; no third.
    assert done["Task_Notify"] == 1 and done["Boundary_Any"] == 1 and done["EndEvent_Late"] == 1
    assert "EndEvent_Fine" not in done and "EndEvent_Done" not in done
    assert engine.terminated(key)["SubProcess_Order"] == 2  # the second instance and the body


def _work(engine, job_type: str) -> list[Job]:
    jobs = activate_jobs([engine.tenant.pk], job_type, "test", 60_000, 100, engine.now())
    for job in jobs:
        complete_job([engine.tenant.pk], job.key, {"result": f"{job_type}-done"} if job_type == "mi-work" else {},
                     "test", engine.now())
    drain()
    return jobs


@pytest.mark.parametrize("process_id", ["listeners-multi-instance", "listeners-multi-instance-sequential"])
def test_execution_listeners_run_around_each_inner_instance(engine, process_id):
    engine.deploy(process_id)
    key = engine.start(process_id, items=["a", "b", "c"])
    order: list[tuple[str, str]] = []
    for _ in range(12):
        progressed = False
        for job_type in ("mi-start", "mi-work", "mi-end"):
            jobs = Job.objects.filter(process_instance_key=key, type=job_type, state="ACTIVATABLE").order_by("key")
            for job in jobs:
                seen = engine.job_variables(job)
                order.append((job_type, seen.get("item")))
                assert (job.kind, job.listener_event_type) == (
                    ("BPMN_ELEMENT", "UNSPECIFIED") if job_type == "mi-work" else
                    ("EXECUTION_LISTENER", "START" if job_type == "mi-start" else "END"))
            if jobs:
                _work(engine, job_type)
                progressed = True
        if not progressed:
            break
    engine.assert_clean_end(key)
    # One start and one end listener job per inner instance, none for the body.
    assert Counter(t for t, _ in order) == Counter({"mi-start": 3, "mi-work": 3, "mi-end": 3})
    assert sorted(i for t, i in order if t == "mi-start") == ["a", "b", "c"]  # the input element is set
    if process_id.endswith("sequential"):
        assert order == [(t, i) for i in "abc" for t in ("mi-start", "mi-work", "mi-end")]
    assert engine.variables(key)["results"] == ["mi-work-done"] * 3
