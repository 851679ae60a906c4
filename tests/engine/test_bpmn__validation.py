"""The parser refuses what the engine cannot run, naming the element, the attribute and the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn import DefinitionError, parse_bpmn

CONFORMANCE = Path(__file__).resolve().parent / "conformance" / "bpmn"

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="x">\n'
)


def doc(body: str, extra: str = "") -> bytes:
    return (HEAD + extra + '<bpmn:process id="p" isExecutable="true">\n' + body
            + "\n</bpmn:process>\n</bpmn:definitions>\n").encode()


def problems(body: str, extra: str = "") -> list[dict]:
    with pytest.raises(DefinitionError) as exc:
        parse_bpmn(doc(body, extra), "t.bpmn")
    return [p.as_dict() for p in exc.value.problems]


START_END = '<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />'


@pytest.mark.parametrize("path", sorted(CONFORMANCE.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_conformance_file_deploys(path):
    assert parse_bpmn(path.read_bytes(), path.name)


@pytest.mark.parametrize(("xml", "element_id", "kind"), [
    ('<bpmn:complexGateway id="Gateway_Complex" />', "Gateway_Complex", "complexGateway"),
    ('<bpmn:transaction id="Tx_1" />', "Tx_1", "transaction"),
    ('<bpmn:adHocSubProcess id="AdHoc_1" />', "AdHoc_1", "adHocSubProcess"),
    ('<bpmn:task id="T" /><bpmn:boundaryEvent id="Comp_1" attachedToRef="T">'
     '<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>', "Comp_1", "boundaryEvent"),
    ('<bpmn:intermediateThrowEvent id="Esc_1"><bpmn:escalationEventDefinition /></bpmn:intermediateThrowEvent>',
     "Esc_1", "intermediateThrowEvent"),
    ('<bpmn:intermediateCatchEvent id="Link_1"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateCatchEvent>',
     "Link_1", "intermediateCatchEvent"),
    ('<bpmn:endEvent id="Sig_End"><bpmn:signalEventDefinition /></bpmn:endEvent>', "Sig_End", "endEvent"),
    ('<bpmn:task id="Loop_1"><bpmn:standardLoopCharacteristics /></bpmn:task>', "Loop_1", "task"),
])
def test_unsupported_elements_are_refused_with_their_ids(xml, element_id, kind):
    found = problems(START_END + xml)
    assert any(p["elementId"] == element_id and p["elementKind"] == kind for p in found), found


def test_every_problem_is_reported_at_once():
    found = problems(START_END + '<bpmn:complexGateway id="G1" /><bpmn:transaction id="T1" />')
    assert {p["elementId"] for p in found} >= {"G1", "T1"}


def test_bad_feel_in_a_condition_names_flow_attribute_text_and_line():
    body = (START_END + '<bpmn:exclusiveGateway id="g" /><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g" />'
            '<bpmn:sequenceFlow id="Flow_Bad" sourceRef="g" targetRef="e">\n'
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt;&gt; 100'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>')
    [found] = problems(body)
    assert found["elementId"] == "Flow_Bad"
    assert "conditionExpression" in found["message"] and "=amount >> 100" in found["message"]
    assert found["line"] == 5  # the line of the conditionExpression


def test_bad_feel_in_an_io_mapping_names_the_mapping():
    body = ('<bpmn:startEvent id="s" /><bpmn:task id="Task_Map"><bpmn:extensionElements><zeebe:ioMapping>'
            '<zeebe:input source="=order.(" target="x" /></zeebe:ioMapping></bpmn:extensionElements></bpmn:task>')
    [found] = problems(body)
    assert found["elementId"] == "Task_Map"
    assert "zeebe:input source (target 'x')" in found["message"] and "=order.(" in found["message"]


def test_bad_feel_in_a_script_is_refused():
    body = ('<bpmn:startEvent id="s" /><bpmn:scriptTask id="Script_1"><bpmn:extensionElements>'
            '<zeebe:script expression="=1 +" resultVariable="r" /></bpmn:extensionElements></bpmn:scriptTask>')
    [found] = problems(body)
    assert found["elementId"] == "Script_1" and "zeebe:script expression" in found["message"]


@pytest.mark.parametrize(("body", "element_id", "text"), [
    ('<bpmn:task id="t" /><bpmn:sequenceFlow id="c1" sourceRef="s" targetRef="t" />'
     '<bpmn:sequenceFlow id="c2" sourceRef="t" targetRef="e"><bpmn:conditionExpression>=x'
     '</bpmn:conditionExpression></bpmn:sequenceFlow>', "c2", "only allowed on a flow out of"),
    ('<bpmn:endEvent id="err"><bpmn:errorEventDefinition /></bpmn:endEvent>', "err", "errorCode"),
    ('<bpmn:task id="t" /><bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false">'
     '<bpmn:errorEventDefinition /></bpmn:boundaryEvent>', "b", "always interrupting"),
    ('<bpmn:serviceTask id="svc" />', "svc", "zeebe:taskDefinition"),
    ('<bpmn:callActivity id="call" />', "call", "zeebe:calledElement"),
    ('<bpmn:exclusiveGateway id="gw" default="nope" />', "gw", "default flow"),
    ('<bpmn:subProcess id="sub" />', "sub", "exactly one none start event"),
    ('<bpmn:subProcess id="esp" triggeredByEvent="true"><bpmn:startEvent id="s2" /></bpmn:subProcess>', "s2",
     "needs an event definition"),
    ('<bpmn:task id="mi"><bpmn:multiInstanceLoopCharacteristics /></bpmn:task>', "mi", "inputCollection"),
    ('<bpmn:businessRuleTask id="dmn"><bpmn:extensionElements><zeebe:calledDecision decisionId="d" '
     '/></bpmn:extensionElements></bpmn:businessRuleTask>', "dmn", "needs a decisionId and a resultVariable"),
    ('<bpmn:businessRuleTask id="dmn"><bpmn:extensionElements><zeebe:calledDecision decisionId="d" '
     'resultVariable="r" bindingType="newest" /></bpmn:extensionElements></bpmn:businessRuleTask>', "dmn",
     "bindingType must be latest, deployment or versionTag"),
    ('<bpmn:businessRuleTask id="dmn"><bpmn:extensionElements><zeebe:calledDecision decisionId="d" '
     'resultVariable="r" bindingType="versionTag" /></bpmn:extensionElements></bpmn:businessRuleTask>', "dmn",
     "needs a versionTag"),
    ('<bpmn:businessRuleTask id="dmn"><bpmn:extensionElements><zeebe:calledDecision decisionId="=d" '
     'resultVariable="r" bindingType="deployment" /></bpmn:extensionElements></bpmn:businessRuleTask>', "dmn",
     "static decisionId"),
    ('<bpmn:task id="el"><bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener '
     'eventType="take" type="t" /></zeebe:executionListeners></bpmn:extensionElements></bpmn:task>', "el",
     "eventType must be start or end, got 'take'"),
    ('<bpmn:task id="el"><bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener '
     'eventType="start" /></zeebe:executionListeners></bpmn:extensionElements></bpmn:task>', "el",
     "zeebe:executionListener needs a job type"),
    ('<bpmn:task id="el"><bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener '
     'eventType="end" type="t" retries="many" /></zeebe:executionListeners></bpmn:extensionElements></bpmn:task>',
     "el", "retries must be a number or an expression, got 'many'"),
    ('<bpmn:task id="el"><bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener '
     'eventType="end" type="=1 +" /></zeebe:executionListeners></bpmn:extensionElements></bpmn:task>',
     "el", "zeebe:executionListener type"),
    ('<bpmn:task id="t" /><bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:extensionElements>'
     '<zeebe:executionListeners><zeebe:executionListener eventType="start" type="x" /></zeebe:executionListeners>'
     '</bpmn:extensionElements><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration>'
     '</bpmn:timerEventDefinition></bpmn:boundaryEvent>', "b", "start execution listeners are not supported on a "
     "boundary event"),
    ('<bpmn:endEvent id="err"><bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener '
     'eventType="end" type="x" /></zeebe:executionListeners></bpmn:extensionElements>'
     '<bpmn:errorEventDefinition errorRef="E" /></bpmn:endEvent>', "err",
     "end execution listeners are not supported on an error end event"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:taskListeners><zeebe:taskListener '
     'eventType="completing" type="t" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "task listeners need a Camunda user task"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask /><zeebe:taskListeners><zeebe:taskListener '
     'eventType="assigning" type="t" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "task listeners on 'assigning' are not supported yet"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask /><zeebe:taskListeners><zeebe:taskListener '
     'eventType="canceling" type="t" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "task listeners on 'canceling' are not supported yet"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask /><zeebe:taskListeners><zeebe:taskListener '
     'eventType="complete" type="t" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "zeebe:taskListener eventType must be creating, completing, assigning, updating, canceling, got 'complete'"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask /><zeebe:taskListeners><zeebe:taskListener '
     'eventType="completing" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "a zeebe:taskListener needs a job type"),
])
def test_structural_problems(body, element_id, text):
    found = problems(START_END + body)
    assert any(p["elementId"] == element_id and text in p["message"] for p in found), found


def test_graph_keeps_normalized_expression_text():
    body = ('<bpmn:startEvent id="s" /><bpmn:task id="t"><bpmn:extensionElements><zeebe:ioMapping>'
            '<zeebe:output source="order.id" target="x" /></zeebe:ioMapping></bpmn:extensionElements></bpmn:task>')
    [graph] = parse_bpmn(doc(body), "t.bpmn")
    assert graph.elements["t"].props["outputs"] == [{"source": "=order.id", "target": "x"}]
