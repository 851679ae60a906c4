"""User task listeners on `assigning` and `updating` (Camunda 8.8): the transition waits for the listener jobs,
which may correct the task (assignee, dates, candidates, priority) or deny the transition (the task is back as it
was, earlier listeners' corrections included); a creating listener cannot deny."""

from __future__ import annotations

import pytest

from engine.actions.instances import cancel_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.actions.task_claims import claim_task, unclaim_task
from engine.actions.user_tasks import assign_user_task, complete_user_task, update_user_task
from engine.errors import Conflict, InvalidInput
from engine.models import Job, UserTask, UserTaskCandidate
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db



def _task(key: int) -> UserTask:
    return UserTask.objects.get(process_instance_key=key)


def _candidates(task: UserTask) -> set[tuple[str, str]]:
    return set(UserTaskCandidate.objects.filter(task_id=task.key).values_list("kind", "name"))


def _assigned(engine) -> int:
    """An instance whose task went through its assigning listener to ann (the process's assignee)."""
    engine.deploy("user-task-listeners-assigning")
    key = engine.start("user-task-listeners-assigning", requester="ann")
    engine.answer("tl-assign")
    assert (_task(key).state, _task(key).assignee) == ("CREATED", "ann")
    return key


def test_the_process_assignee_goes_through_the_assigning_listener_which_may_correct_it(engine):
    engine.deploy("user-task-listeners-assigning")
    key = engine.start("user-task-listeners-assigning", requester="ann")
    task = _task(key)
    # Created without the assignee, then ASSIGNING to it (the listener sees the new assignee).
    assert (task.state, task.assignee) == ("ASSIGNING", "ann")
    [job] = engine.jobs("tl-assign")
    assert (job.kind, job.listener_event_type) == ("TASK_LISTENER", "ASSIGNING")
    assert job.custom_headers == {"region": "EU"}  # the user task's task headers (Camunda 8.8)
    with pytest.raises(Conflict, match="task listeners are at work"):
        complete_user_task([engine.tenant.pk], task.key, {}, "test", engine.now())
    engine.answer("tl-assign", {"corrections": {"assignee": "bob", "candidateUsers": ["carl"]}})
    task = _task(key)
    assert (task.state, task.assignee, task.candidate_users) == ("CREATED", "bob", ["carl"])
    assert _candidates(task) == {("user", "carl"), ("group", "approvers")}
    intents = [r["intent"] for r in engine.records(key) if r["intent"].startswith("USER_TASK")]
    assert intents == ["USER_TASK_CREATED", "USER_TASK_ASSIGNING", "USER_TASK_CORRECTED", "USER_TASK_ASSIGNED"]


def test_a_claim_waits_for_the_listener_and_a_denial_keeps_the_previous_assignee(engine):
    key = _assigned(engine)
    task = _task(key)
    assert unclaim_task([engine.tenant.pk], task.key, "ann", "ann", engine.now()) is not None
    assert (_task(key).state, _task(key).assignee) == ("ASSIGNING", "ann")  # not changed before the listener
    with pytest.raises(Conflict, match="assigning"):  # one transition at a time
        claim_task([engine.tenant.pk], task.key, "bob", "bob", engine.now())
    drain()
    assert _task(key).assignee == ""  # the listener sees the task unassigned
    engine.answer("tl-assign", {"denied": True, "deniedReason": "ann keeps it"})
    assert (_task(key).state, _task(key).assignee) == ("CREATED", "ann")
    assert [r["deniedReason"] for r in engine.records(key, "USER_TASK_ASSIGNMENT_DENIED")] == ["ann keeps it"]

    assert assign_user_task([engine.tenant.pk], task.key, "dora", "admin", engine.now()) is not None
    drain()
    engine.answer("tl-assign")
    assert (_task(key).state, _task(key).assignee) == ("CREATED", "dora")


def test_an_update_waits_for_the_updating_listener_and_a_denial_undoes_it(engine):
    key = _assigned(engine)
    task = _task(key)
    changes = {"priority": 70, "dueDate": "2027-03-01T12:00:00Z", "candidateGroups": ["clerks"]}
    assert update_user_task([engine.tenant.pk], task.key, changes, "", "admin", engine.now()) is not None
    assert _task(key).state == "UPDATING"
    drain()
    [job] = engine.jobs("tl-update")
    assert job.listener_event_type == "UPDATING"
    assert (_task(key).priority, _candidates(_task(key))) == (70, {("group", "clerks")})
    engine.answer("tl-update", {"denied": True})
    task = _task(key)
    assert (task.state, task.priority, task.due_date, task.candidate_groups) == ("CREATED", 50, None, ["approvers"])
    assert _candidates(task) == {("group", "approvers")}

    update_user_task([engine.tenant.pk], task.key, changes, "escalate", "admin", engine.now())
    drain()
    engine.answer("tl-update", {"corrections": {"priority": 90}})
    task = _task(key)
    assert (task.state, task.priority, task.candidate_groups) == ("CREATED", 90, ["clerks"])
    assert task.due_date.isoformat() == "2027-03-01T12:00:00+00:00"
    assert [r["action"] for r in engine.records(key, "USER_TASK_UPDATED")] == ["escalate"]


def test_an_update_without_updating_listeners_applies_at_once(engine):
    engine.deploy("user-task-listeners")
    key = engine.start("user-task-listeners", requester="ann")
    engine.answer("tl-create")
    task = _task(key)
    assert update_user_task([engine.tenant.pk], task.key, {"priority": 5, "candidateUsers": ["eve"],
                                                           "followUpDate": None}, "", "admin", engine.now()) is None
    drain()
    task = _task(key)
    assert (task.state, task.priority, task.candidate_users) == ("CREATED", 5, ["eve"])
    assert _candidates(task) == {("user", "eve"), ("group", "approvers")}


def test_a_denied_completion_discards_the_corrections_of_earlier_listeners(engine):
    engine.deploy("user-task-listeners")
    key = engine.start("user-task-listeners", requester="ann")
    engine.answer("tl-create")
    complete_user_task([engine.tenant.pk], _task(key).key, {}, "test", engine.now())
    drain()
    engine.answer("tl-check-1", {"corrections": {"priority": 10, "assignee": "zed"}})
    assert (_task(key).priority, _task(key).assignee) == (10, "zed")  # the next listener sees them
    engine.answer("tl-check-2", {"denied": True})
    assert (_task(key).state, _task(key).priority, _task(key).assignee) == ("CREATED", 50, "ann")


def test_a_creating_listener_cannot_deny(engine):
    engine.deploy("user-task-listeners")
    engine.start("user-task-listeners", requester="ann")
    [job] = activate_jobs([engine.tenant.pk], "tl-create", "test", 60_000, 1, engine.now())
    with pytest.raises(InvalidInput, match="cannot deny"):
        complete_job([engine.tenant.pk], job.key, {}, "test", engine.now(), result={"denied": True})


@pytest.mark.parametrize(("changeset", "text"), [
    ({"assignee": "x"}, "changeset.assignee is not a changeable attribute"),
    ({"priority": "high"}, "priority must be an integer from 0 to 100"),
    ({"candidateUsers": "a,b"}, "candidateUsers must be a list of strings"),
    ([1], "changeset must be a JSON object"),
])
def test_a_bad_changeset_is_refused(engine, changeset, text):
    key = _assigned(engine)
    with pytest.raises(InvalidInput, match=text):
        update_user_task([engine.tenant.pk], _task(key).key, changeset, "", "admin", engine.now())
    assert _task(key).state == "CREATED"


def test_cancelling_while_assigning_withdraws_the_listener_job(engine):
    engine.deploy("user-task-listeners-assigning")
    key = engine.start("user-task-listeners-assigning", requester="ann")
    [job] = engine.jobs("tl-assign")
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    assert _task(key).state == "CANCELED" and Job.objects.get(key=job.key).state == "CANCELED"
