"""Call activity: a child process instance (latest version), variables in and out, errors up, cancel down."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.actions.instances import cancel_instance
from engine.models import ProcessInstance
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def child_of(key: int) -> ProcessInstance:
    return ProcessInstance.objects.get(parent_instance_key=key)


def test_child_runs_and_all_its_variables_come_back(engine):
    engine.deploy("call-child", "call-activity")
    key = engine.start("call-activity", customer={"name": "Ada"}, fail=False)
    engine.assert_clean_end(key)
    child = child_of(key)
    assert child.root_instance_key == key and child.parent_element_instance_key is not None
    assert child.definition.bpmn_process_id == "call-child"
    engine.assert_clean_end(child.key)
    # The child starts with every variable the call activity sees (the input mapping's `name` included).
    assert engine.variables(child.key) == {"customer": {"name": "Ada"}, "fail": False, "name": "Ada",
                                           "greeting": "Hello Ada"}
    # Back in the parent, `name` lands on the call activity (it has it locally), the rest at the process.
    assert engine.variables(key) == {"customer": {"name": "Ada"}, "fail": False, "greeting": "Hello Ada"}
    assert engine.completion_order(key) == ["StartEvent_1", "Call_Child", "EndEvent_1", "call-activity"]
    assert engine.completion_order(child.key) == ["StartEvent_1", "Task_Greet", "Gateway_Fail", "EndEvent_1",
                                                  "call-child"]


def test_latest_version_is_called(engine):
    engine.deploy("call-child", "call-activity")
    from engine.definitions.deploy import Resource, deploy

    source = (engine.deploy.__globals__["BPMN"] / "call-child.bpmn").read_bytes().replace(b'"Hello "', b'"Hi "')
    source = source.replace(b"&quot;Hello &quot;", b"&quot;Hi &quot;")
    [v2] = deploy(engine.tenant, [Resource("call-child.bpmn", source)], engine.now())[1]
    assert v2.version == 2
    key = engine.start("call-activity", customer={"name": "Bo"}, fail=False)
    assert child_of(key).definition_id == v2.key
    assert engine.variables(key)["greeting"] == "Hi Bo"


def test_output_mappings_only_when_child_variables_are_not_propagated(engine):
    engine.deploy("call-child", "call-activity-mapped")
    key = engine.start("call-activity-mapped", childId="call-child", name="Cy", fail=False)
    engine.assert_clean_end(key)
    assert engine.variables(key) == {"childId": "call-child", "name": "Cy", "fail": False, "message": "Hello Cy"}


def test_error_in_the_child_is_caught_by_the_call_activity_boundary(engine):
    engine.deploy("call-child", "call-activity-mapped")
    key = engine.start("call-activity-mapped", childId="call-child", name="Cy", fail=True)
    engine.assert_clean_end(key)
    assert engine.completed(key) == Counter(["StartEvent_1", "Boundary_Invalid", "EndEvent_Invalid",
                                             "call-activity-mapped"])
    assert engine.terminated(key) == Counter(["Call_Child"])
    child = child_of(key)
    engine.assert_clean_end(child.key, "TERMINATED")
    assert "message" not in engine.variables(key)


def test_cancelling_the_parent_cancels_the_child(engine):
    engine.deploy("call-child", "call-activity")
    engine.deploy("user-task")
    # A child that waits: call the user task process instead.
    source = (engine.deploy.__globals__["BPMN"] / "call-activity.bpmn").read_bytes()
    from engine.definitions.deploy import Resource, deploy

    deploy(engine.tenant, [Resource("c.bpmn", source.replace(b'processId="call-child"', b'processId="user-task"'))],
           engine.now())
    key = engine.start("call-activity", customer={"name": "Ada"}, owner="ada", reviewers=[], due=None, prio=1)
    child = child_of(key)
    assert engine.state(child.key) == "ACTIVE" and engine.user_tasks(child.key)[0].state == "CREATED"
    cancel_instance(engine.tenant, key, "test", engine.now())
    drain()
    engine.assert_clean_end(key, "TERMINATED")
    engine.assert_clean_end(child.key, "TERMINATED")
    assert engine.user_tasks(child.key)[0].state == "CANCELED"


def test_missing_called_process_is_an_incident(engine):
    engine.deploy("call-activity-mapped")
    key = engine.start("call-activity-mapped", childId="nope")
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("Call_Child", "CALLED_ELEMENT_ERROR") and "nope" in message
