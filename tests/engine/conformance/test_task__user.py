"""User task: a UserTask row (assignee, candidates, schedule, priority, form), assignable and completable
through engine commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.actions.user_tasks import assign_user_task, complete_user_task, unassign_user_task
from engine.errors import Conflict
from engine.models import UserTaskCandidate
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db

VARS = {"owner": "ada", "reviewers": ["bob", "cy"], "due": "2030-01-02T10:00:00+01:00", "prio": 80}


def test_user_task_is_created_assigned_and_completed(engine):
    engine.deploy("user-task")
    key = engine.start("user-task", **VARS)
    [task] = engine.user_tasks(key)
    assert (task.state, task.assignee, task.priority) == ("CREATED", "ada", 80)
    assert task.candidate_groups == ["sales", "support"] and task.candidate_users == ["bob", "cy"]
    assert task.due_date == datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    assert task.follow_up_date == datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    assert task.form_key == "camunda-forms:bpmn:Form_Approve" and task.name == "Approve order"
    assert task.process_name == "User task" and task.bpmn_process_id == "user-task"
    assert sorted(UserTaskCandidate.objects.filter(task=task).values_list("kind", "name")) == [
        ("group", "sales"), ("group", "support"), ("user", "bob"), ("user", "cy")]

    tenants = [engine.tenant.pk]
    unassign_user_task(tenants, task.key, "test", engine.now())
    drain()
    assert engine.user_tasks(key)[0].assignee == ""
    assign_user_task(tenants, task.key, "bob", "test", engine.now(), allow_override=False)
    drain()
    assert engine.user_tasks(key)[0].assignee == "bob"
    with pytest.raises(Conflict):
        assign_user_task(tenants, task.key, "cy", "test", engine.now(), allow_override=False)

    complete_user_task(tenants, task.key, {"approved": True, "comment": "fine"}, "bob", engine.now())
    with pytest.raises(Conflict):
        complete_user_task(tenants, task.key, {}, "bob", engine.now())
    drain()
    engine.assert_clean_end(key)
    [task] = engine.user_tasks(key)
    assert (task.state, task.completed_by) == ("COMPLETED", "bob")
    assert not UserTaskCandidate.objects.filter(task=task).exists()
    assert engine.completion_order(key) == ["StartEvent_1", "Task_Approve", "EndEvent_1", "user-task"]
    # The output mapping takes `approved` out as `decision`; the other submitted variables stay on the task.
    assert engine.variables(key) == {**VARS, "decision": True}


def test_embedded_form_is_kept_with_the_graph(engine):
    [definition] = engine.deploy("user-task")
    assert '"key":"approved"' in definition.graph["forms"]["Form_Approve"]


def test_cancel_cancels_the_user_task(engine):
    from engine.actions.instances import cancel_instance

    engine.deploy("user-task")
    key = engine.start("user-task", **VARS)
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    [task] = engine.user_tasks(key)
    assert task.state == "CANCELED"
    assert not UserTaskCandidate.objects.filter(task=task).exists()


def test_bad_due_date_is_an_incident(engine):
    engine.deploy("user-task")
    key = engine.start("user-task", **{**VARS, "due": "next week"})
    [(element_id, error_type, _)] = engine.incidents(key)
    assert (element_id, error_type) == ("Task_Approve", "EXTRACT_VALUE_ERROR")
