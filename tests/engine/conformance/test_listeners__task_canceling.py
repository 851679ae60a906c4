"""`canceling` task listeners (Camunda 8.8): a user task that is terminated — its instance cancelled, an
interrupting boundary event or event subprocess, a terminate end event, a modification, its scope ended, a
multi-instance completion condition — is CANCELING until its canceling listener jobs are done, one at a time
in document order; only then does it end, and only then does what terminated it go on.

user-task-canceling: Task_Review (canceling listeners tl-cancel-1 with 1 retry, then tl-cancel-2; an assigning
listener) beside a Catch_Stop branch ending in a terminate end event; an interrupting message boundary
(withdrawn), a non-interrupting one (remind), an interrupting message event subprocess (abort).
user-task-canceling-scopes: Task_Inner (canceling listener) in Sub_Review with an interrupting boundary
(recall), then a parallel multi-instance Task_Vote (canceling listener) that completes with the first vote.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import transaction

from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance
from engine.actions.jobs import activate_jobs, complete_job, fail_job, throw_error
from engine.actions.messages import publish_message
from engine.actions.modification import Modification, modify_instance
from engine.actions.task_transitions import await_transition
from engine.actions.user_tasks import assign_user_task, complete_user_task
from engine.errors import Conflict, InvalidInput
from engine.models import Command, ElementInstance, Incident, Job, UserTask
from engine.runtime.loop import drain
from engine.store.commands import submit

pytestmark = pytest.mark.django_db



def _review(engine, order: str = "A") -> tuple[int, UserTask]:
    engine.deploy("user-task-canceling")
    key = engine.start("user-task-canceling", orderId=order)
    [task] = engine.user_tasks(key)
    assert task.state == "CREATED"
    return key, task


def _publish(engine, name: str, order: str = "A") -> None:
    publish_message(engine.tenant, name, order, 0, "", {}, "test", engine.now())
    drain()


def _state(task: UserTask) -> str:
    task.refresh_from_db()
    return task.state


def _canceling(engine, key: int, task: UserTask) -> None:
    """The task waits for its first canceling listener; nothing after it has happened yet."""
    assert _state(task) == "CANCELING"
    assert engine.state(key) == "ACTIVE"
    assert engine.active(key)["Task_Review"] == 1
    [job] = engine.jobs("tl-cancel-1")
    assert (job.kind, job.listener_event_type, job.element_id, job.retries) == (
        "TASK_LISTENER", "CANCELING", "Task_Review", 1)
    assert job.custom_headers == {"team": "claims"}  # the task's headers, as for every task listener
    assert not engine.jobs("tl-cancel-2")  # one at a time, in document order
    with pytest.raises(Conflict):  # no longer open: it cannot be completed
        complete_user_task([engine.tenant.pk], task.key, {}, "test", engine.now())


def _listeners_done(engine) -> None:
    engine.answer("tl-cancel-1")
    assert engine.jobs("tl-cancel-2")
    engine.answer("tl-cancel-2")


def test_cancelling_the_instance_waits_for_the_canceling_listeners(engine):
    key, task = _review(engine)
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    _canceling(engine, key, task)
    assert engine.active(key) == Counter(["user-task-canceling", "Task_Review"])  # the other branch is gone
    job = engine.jobs("tl-cancel-1")[0]
    assert engine.job_variables(job) == {"orderId": "A"}  # the listener sees the instance's variables
    with pytest.raises(Conflict, match="being canceled already"):
        cancel_instance(engine.tenant, key, "test", engine.now())
    with transaction.atomic():  # a command that got past the check (a batch operation's) is rejected
        submit(engine.tenant.pk, key, Command.Kind.CANCEL_INSTANCE, {}, "test", engine.now())
    drain()
    assert Command.objects.filter(process_instance_key=key, kind="CANCEL_INSTANCE").latest("id").state == "REJECTED"

    engine.answer("tl-cancel-1", {"corrections": {"priority": 10}})  # corrections go on the task
    assert (_state(task), task.priority, engine.state(key)) == ("CANCELING", 10, "ACTIVE")
    engine.answer("tl-cancel-2")
    assert _state(task) == "CANCELED"
    engine.assert_clean_end(key, "TERMINATED")
    assert [r["intent"] for r in engine.records(key) if r["intent"].startswith("USER_TASK_CANCEL")] == [
        "USER_TASK_CANCELING", "USER_TASK_CANCELED"]


def test_a_canceling_listener_cannot_deny_and_throws_no_error(engine):
    key, task = _review(engine)
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    [job] = activate_jobs([engine.tenant.pk], "tl-cancel-1", "test", 60_000, 1, engine.now())
    with pytest.raises(InvalidInput, match="canceling"):
        complete_job([engine.tenant.pk], job.key, {}, "test", engine.now(), result={"denied": True})
    throw_error([engine.tenant.pk], job.key, "NO", "", {}, "test", engine.now())
    drain()  # refused by the engine: the element is being terminated
    assert engine.active(key)["Task_Review"] == 1 and _state(task) == "CANCELING"


def test_an_interrupting_boundary_event_is_taken_once_the_task_is_canceled(engine):
    key, task = _review(engine)
    _publish(engine, "remind")  # non-interrupting: the task stays
    assert _state(task) == "CREATED" and engine.completed(key)["End_Reminded"] == 1
    _publish(engine, "withdrawn")
    _canceling(engine, key, task)
    assert "Boundary_Withdrawn" not in engine.active(key) + engine.completed(key)
    _publish(engine, "remind")  # its boundary events are withdrawn with it
    assert engine.completed(key)["End_Reminded"] == 1
    _listeners_done(engine)
    assert _state(task) == "CANCELED"
    assert engine.completed(key)["End_Withdrawn"] == 1
    assert engine.active(key) == Counter(["user-task-canceling", "Catch_Stop"])
    order = [r.get("elementId") for r in engine.records(key) if r["intent"] in ("ELEMENT_TERMINATED",
                                                                               "ELEMENT_ACTIVATED")]
    assert order.index("Task_Review") < order.index("Boundary_Withdrawn")


def test_an_interrupting_event_subprocess_starts_once_the_task_is_canceled(engine):
    key, task = _review(engine)
    _publish(engine, "abort")
    _canceling(engine, key, task)
    assert engine.terminated(key)["Catch_Stop"] == 1  # the rest of the scope ended at once
    assert "Esp_Abort" not in engine.active(key) + engine.completed(key)
    _listeners_done(engine)
    assert engine.completed(key)["End_Aborted"] == 1
    engine.assert_clean_end(key)


def test_a_terminate_end_event_completes_its_scope_once_the_task_is_canceled(engine):
    key, task = _review(engine)
    _publish(engine, "stop")
    _canceling(engine, key, task)
    assert engine.completed(key)["End_Stop"] == 1
    _listeners_done(engine)
    engine.assert_clean_end(key)


def test_terminating_the_task_by_modification_ends_its_emptied_scope_afterwards(engine):
    key, task = _review(engine)
    catch = ElementInstance.objects.get(process_instance_id=key, element_id="Catch_Stop")
    modify_instance([engine.tenant.pk], key, Modification(terminate_keys=[task.element_instance_key, catch.key]),
                    "test", engine.now())
    drain()
    _canceling(engine, key, task)
    # Another modification waits until the listeners are done: the engine refuses it meanwhile.
    modify_instance([engine.tenant.pk], key, Modification(terminate_keys=[task.element_instance_key]), "test",
                    engine.now())
    drain()
    assert Command.objects.filter(process_instance_key=key, kind="MODIFY_INSTANCE").latest("id").state == "REJECTED"
    _listeners_done(engine)
    engine.assert_clean_end(key, "TERMINATED")


def test_a_pending_assignment_is_withdrawn_and_its_listener_job_canceled(engine):
    key, task = _review(engine)
    asked = assign_user_task([engine.tenant.pk], task.key, "bob", "test", engine.now())
    drain()
    assert (_state(task), task.assignee) == ("ASSIGNING", "bob")
    [assigning] = engine.jobs("tl-assign")
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    _canceling(engine, key, task)
    assert task.assignee == ""  # the listeners see the task as it was before the assignment
    assert Job.objects.get(key=assigning.key).state == "CANCELED"
    outcome = await_transition(asked, 1)  # what the waiting request answers (409)
    assert outcome.state == "canceled" and "was canceled" in outcome.message(asked)
    _listeners_done(engine)
    engine.assert_clean_end(key, "TERMINATED")


def test_a_canceling_listener_out_of_retries_raises_its_incident_and_resolving_it_goes_on(engine):
    key, task = _review(engine)
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    [job] = activate_jobs([engine.tenant.pk], "tl-cancel-1", "w", 60_000, 1, engine.now())
    fail_job([engine.tenant.pk], job.key, 0, "audit store down", None, {}, "test", engine.now())
    drain()
    assert engine.incidents(key) == [("Task_Review", "TASK_LISTENER_NO_RETRIES", "audit store down")]
    assert engine.state(key) == "ACTIVE" and _state(task) == "CANCELING"
    Job.objects.filter(key=job.key).update(retries=1)
    resolve_incident([engine.tenant.pk], Incident.objects.get(process_instance_key=key).key, "test", engine.now())
    drain()
    _listeners_done(engine)
    engine.assert_clean_end(key, "TERMINATED")
    assert not engine.incidents(key)


def test_a_scope_with_a_canceling_task_inside_ends_after_it_and_then_its_boundary_event_is_taken(engine):
    engine.deploy("user-task-canceling-scopes")
    key = engine.start("user-task-canceling-scopes", orderId="S", voters=["ann", "bob", "cy"])
    [inner] = engine.user_tasks(key)
    publish_message(engine.tenant, "recall", "S", 0, "", {"recalled": True}, "test", engine.now())
    drain()
    assert _state(inner) == "CANCELING"
    assert engine.active(key) == Counter(["user-task-canceling-scopes", "Sub_Review", "Task_Inner"])
    [job] = engine.jobs("tl-cancel-inner")
    assert job.listener_event_type == "CANCELING"
    engine.answer("tl-cancel-inner")
    assert engine.terminated(key) == Counter(["Task_Inner", "Sub_Review"])
    engine.assert_clean_end(key)
    assert engine.completed(key)["End_Recalled"] == 1 and engine.variables(key)["recalled"] is True


def test_a_multi_instance_body_completes_once_the_instances_its_condition_ended_are_canceled(engine):
    engine.deploy("user-task-canceling-scopes")
    key = engine.start("user-task-canceling-scopes", orderId="M", voters=["ann", "bob", "cy"])
    [inner] = engine.user_tasks(key)
    complete_user_task([engine.tenant.pk], inner.key, {}, "test", engine.now())
    drain()
    votes = [t for t in engine.user_tasks(key) if t.element_id == "Task_Vote"]
    assert [t.assignee for t in votes] == ["ann", "bob", "cy"]
    complete_user_task([engine.tenant.pk], votes[0].key, {}, "test", engine.now())
    drain()
    assert [_state(t) for t in votes] == ["COMPLETED", "CANCELING", "CANCELING"]
    assert "End_Voted" not in engine.completed(key)  # the body waits for both
    engine.answer("tl-cancel-vote")
    assert "End_Voted" not in engine.completed(key)
    engine.answer("tl-cancel-vote")
    assert [_state(t) for t in votes] == ["COMPLETED", "CANCELED", "CANCELED"]
    engine.assert_clean_end(key)
    assert engine.completed(key)["End_Voted"] == 1
