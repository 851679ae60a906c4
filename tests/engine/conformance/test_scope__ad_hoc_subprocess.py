"""Ad-hoc subprocesses (Camunda 8.7, run by the engine): `zeebe:adHoc activeElementsCollection` activates the listed
inner elements on entry (those no sequence flow leads to); the subprocess completes when all it started is done, or
when its completionCondition holds after an inner completion (cancelRemainingInstances: the rest is terminated, or
waited for)."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.actions.incidents import resolve_incident
from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, Incident, Variable
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db


def test_the_listed_elements_run_and_their_flows_follow(engine):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-checks", checks=["Task_Credit", "Task_Docs"])
    engine.assert_clean_end(key)
    done = engine.completed(key)
    assert done["Task_Credit"] == done["Task_Docs"] == done["Task_Archive"] == done["AdHoc_Checks"] == 1
    assert "Task_Fraud" not in done
    assert {k: engine.variables(key)[k] for k in ("credit", "docs", "archived")} == {
        "credit": "ok", "docs": "ok", "archived": True}
    [body] = ElementInstance.objects.filter(process_instance_id=key, element_id="AdHoc_Checks")
    assert body.element_type == "AD_HOC_SUB_PROCESS"


def test_it_completes_when_what_it_started_is_done(engine):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-checks", checks=["Task_Fraud", "Task_Credit"])
    assert engine.active(key) == Counter(["ad-hoc-checks", "AdHoc_Checks", "Task_Fraud"])
    engine.complete_jobs("fraud-check", {"fraud": False})
    engine.assert_clean_end(key)
    assert engine.variables(key)["fraud"] is False


def test_an_empty_list_leaves_it_waiting(engine):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-checks", checks=[])
    assert engine.active(key) == Counter(["ad-hoc-checks", "AdHoc_Checks"])
    assert engine.incidents(key) == []


@pytest.mark.parametrize(("checks", "text"), [
    ("Task_Credit", "must be a list of element ids"),
    (["Task_Archive"], "not elements ad-hoc subprocess 'AdHoc_Checks' can activate"),  # a flow leads to it
    (["Nope"], "not elements ad-hoc subprocess"),
])
def test_a_bad_collection_is_an_incident_that_can_be_resolved(engine, checks, text):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-checks", checks=checks)
    [(element_id, error_type, message)] = engine.incidents(key)
    assert (element_id, error_type) == ("AdHoc_Checks", "EXTRACT_VALUE_ERROR") and text in message
    Variable.objects.filter(process_instance_id=key, name="checks").update(value=["Task_Credit"])
    resolve_incident([engine.tenant.pk], Incident.objects.get(process_instance_key=key).key, "test", engine.now())
    drain()
    engine.assert_clean_end(key)


def test_the_completion_condition_ends_it_and_cancels_the_rest(engine):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-until", decided=False)
    assert engine.active(key) == Counter(["ad-hoc-until", "AdHoc_Ask", "Task_Ask_A", "Task_Ask_B"])
    engine.complete_jobs("ask-a", {"decided": True})
    engine.assert_clean_end(key)
    assert engine.terminated(key) == Counter(["Task_Ask_B"])
    assert engine.completed(key)["EndEvent_U"] == 1


def test_a_condition_that_never_holds_keeps_it_waiting(engine):
    engine.deploy("ad-hoc-subprocess")
    key = engine.start("ad-hoc-until", decided=False)
    engine.complete_jobs("ask-a", {"decided": False})
    engine.complete_jobs("ask-b", {"decided": False})
    assert engine.active(key) == Counter(["ad-hoc-until", "AdHoc_Ask"])  # nothing runs, not decided: it waits


def test_without_cancel_remaining_instances_the_rest_finishes_first(engine):
    engine.deploy("ad-hoc-subprocess-wait-rest")
    key = engine.start("ad-hoc-until-all", decided=False)
    engine.complete_jobs("ask-a", {"decided": True})
    assert engine.active(key) == Counter(["ad-hoc-until-all", "AdHoc_Ask", "Task_Ask_B"])
    engine.complete_jobs("ask-b", {"decided": False})  # the condition held once: that is enough
    engine.assert_clean_end(key)
    assert engine.terminated(key) == Counter()


@pytest.mark.parametrize(("inner", "extension", "text"), [
    ('<bpmn:startEvent id="S"/><bpmn:task id="T"/>', '<zeebe:adHoc activeElementsCollection="=[]"/>',
     "must not contain start or end events"),
    ('<bpmn:intermediateThrowEvent id="T"/>', '<zeebe:adHoc activeElementsCollection="=[]"/>',
     "needs at least one activity"),
    ('<bpmn:task id="T"/>', '<zeebe:adHoc outputCollection="results"/>', "outputCollection is not supported yet"),
    ('<bpmn:task id="T"/>', '<zeebe:taskDefinition type="agent"/>', "job worker"),
])
def test_what_is_refused_at_deploy(engine, inner, extension, text):
    xml = f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:adHocSubProcess id="A"><bpmn:extensionElements>{extension}</bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming>{inner}</bpmn:adHocSubProcess>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="A"/>
  </bpmn:process>
</bpmn:definitions>'''
    with pytest.raises(DefinitionError) as refused:
        deploy(engine.tenant, [Resource("p.bpmn", xml.encode())], engine.now())
    assert any(p.element_id == "A" and text in p.message for p in refused.value.problems), (
        refused.value.problems)
