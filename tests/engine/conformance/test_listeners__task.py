"""User task listeners (`zeebe:taskListeners`, Camunda 8.8): creating and completing listener jobs that may
correct the task or deny its completion."""

from __future__ import annotations

import pytest

from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import activate_jobs, complete_job, fail_job
from engine.actions.user_tasks import complete_user_task
from engine.errors import Conflict, InvalidInput
from engine.models import Incident, Job, UserTask
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db



def _task(key: int) -> UserTask:
    return UserTask.objects.get(process_instance_key=key)


def _created(engine) -> int:
    engine.deploy("user-task-listeners")
    key = engine.start("user-task-listeners", requester="ann")
    engine.answer("tl-create")
    assert _task(key).state == "CREATED"
    return key


def test_the_task_is_creating_until_its_creating_listener_is_done_and_may_be_corrected(engine):
    engine.deploy("user-task-listeners")
    key = engine.start("user-task-listeners", requester="ann")
    task = _task(key)
    assert (task.state, task.assignee) == ("CREATING", "ann")
    [job] = engine.jobs("tl-create")
    assert (job.kind, job.listener_event_type, job.element_id) == ("TASK_LISTENER", "CREATING", "Task_Approve")
    with pytest.raises(Conflict):  # not in anyone's list yet: it cannot be completed
        complete_user_task([engine.tenant.pk], task.key, {}, "test", engine.now())
    engine.answer("tl-create", {"corrections": {"assignee": "bob", "priority": 80,
                                                  "dueDate": "2027-01-31T17:00:00+01:00"}})
    task = _task(key)
    assert (task.state, task.assignee, task.priority) == ("CREATED", "bob", 80)
    assert task.due_date.isoformat() == "2027-01-31T16:00:00+00:00"
    assert [r["corrected"] for r in engine.records(key, "USER_TASK_CORRECTED")] == [["assignee", "dueDate",
                                                                                     "priority"]]


def test_a_denied_completion_is_withdrawn_and_an_accepted_one_goes_through_every_listener(engine):
    key = _created(engine)
    task = _task(key)
    complete_user_task([engine.tenant.pk], task.key, {"approved": True}, "test", engine.now())
    drain()
    assert _task(key).state == "COMPLETING"
    [job] = engine.jobs("tl-check-1")
    assert (job.kind, job.listener_event_type) == ("TASK_LISTENER", "COMPLETING")
    engine.answer("tl-check-1", {"denied": True, "deniedReason": "missing receipt"})
    assert _task(key).state == "CREATED"  # back in the list; the submitted variables are dropped
    assert "approved" not in engine.variables(key)
    assert not engine.jobs("tl-check-2")
    assert [r["deniedReason"] for r in engine.records(key, "USER_TASK_COMPLETION_DENIED")] == ["missing receipt"]

    complete_user_task([engine.tenant.pk], task.key, {"approved": False}, "test", engine.now())
    drain()
    engine.answer("tl-check-1", {"denied": False})
    assert _task(key).state == "COMPLETING" and engine.state(key) == "ACTIVE"  # waits for the second listener
    engine.answer("tl-check-2", {"corrections": {"priority": 10}}, variables={"ignored": 1})
    task = _task(key)
    assert (task.state, task.priority) == ("COMPLETED", 10)
    engine.assert_clean_end(key)
    assert engine.variables(key)["approved"] is False
    assert "ignored" not in engine.variables(key)  # a task listener's variables are not the task's


def test_a_task_listener_out_of_retries_raises_its_incident(engine):
    key = _created(engine)
    complete_user_task([engine.tenant.pk], _task(key).key, {"approved": True}, "test", engine.now())
    drain()
    [job] = activate_jobs([engine.tenant.pk], "tl-check-1", "w", 60_000, 1, engine.now())
    fail_job([engine.tenant.pk], job.key, 0, "checker down", None, {}, "test", engine.now())
    drain()
    assert engine.incidents(key) == [("Task_Approve", "TASK_LISTENER_NO_RETRIES", "checker down")]
    Job.objects.filter(key=job.key).update(retries=1)
    resolve_incident([engine.tenant.pk], Incident.objects.get(process_instance_key=key).key, "test", engine.now())
    drain()
    engine.answer("tl-check-1")
    engine.answer("tl-check-2")
    engine.assert_clean_end(key)
    assert engine.variables(key)["approved"] is True


def test_cancelling_withdraws_the_task_and_its_listener_job(engine):
    key = _created(engine)
    complete_user_task([engine.tenant.pk], _task(key).key, {}, "test", engine.now())
    drain()
    [job] = engine.jobs("tl-check-1")
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    assert _task(key).state == "CANCELED"
    assert Job.objects.get(key=job.key).state == "CANCELED"


@pytest.mark.parametrize(("result", "text"), [
    ("yes", "result must be a JSON object"),
    ({"type": "adHocSubProcess"}, "only userTask"),
    ({"denied": "no"}, "denied must be a boolean"),
    ({"corrections": {"candidateGroups": "x"}}, "candidateGroups must be a list of strings"),
    ({"corrections": {"name": "x"}}, "not a changeable attribute"),
    ({"corrections": {"priority": 101}}, "integer from 0 to 100"),
    ({"corrections": {"dueDate": "tomorrow"}}, "ISO 8601"),
])
def test_a_bad_result_is_refused_before_anything_is_written(engine, result, text):
    key = _created(engine)
    complete_user_task([engine.tenant.pk], _task(key).key, {}, "test", engine.now())
    drain()
    [job] = activate_jobs([engine.tenant.pk], "tl-check-1", "w", 60_000, 1, engine.now())
    with pytest.raises(InvalidInput, match=text):
        complete_job([engine.tenant.pk], job.key, {}, "test", engine.now(), result=result)
    assert Job.objects.get(key=job.key).state == "ACTIVATED"
