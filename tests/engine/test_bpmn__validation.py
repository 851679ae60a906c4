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
    ('<bpmn:task id="T" /><bpmn:boundaryEvent id="Comp_1" attachedToRef="T">'
     '<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>', "Comp_1", "boundaryEvent"),
    ('<bpmn:intermediateThrowEvent id="Cond_1"><bpmn:conditionalEventDefinition /></bpmn:intermediateThrowEvent>',
     "Cond_1", "intermediateThrowEvent"),
    ('<bpmn:endEvent id="Cancel_End"><bpmn:cancelEventDefinition /></bpmn:endEvent>', "Cancel_End", "endEvent"),
    ('<bpmn:task id="Loop_1"><bpmn:standardLoopCharacteristics /></bpmn:task>', "Loop_1", "task"),
])
def test_unsupported_elements_are_refused_with_their_ids(xml, element_id, kind):
    found = problems(START_END + xml)
    assert any(p["elementId"] == element_id and p["elementKind"] == kind for p in found), found


@pytest.mark.parametrize("xml", [
    '<bpmn:intermediateCatchEvent id="Cond"><bpmn:conditionalEventDefinition><bpmn:condition>=x &gt; 1'
    '</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>',
    '<bpmn:task id="T" /><bpmn:boundaryEvent id="Cond" attachedToRef="T"><bpmn:conditionalEventDefinition>'
    '<bpmn:condition>=x &gt; 1</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:boundaryEvent>',
    '<bpmn:startEvent id="Cond"><bpmn:conditionalEventDefinition><bpmn:condition>=x &gt; 1</bpmn:condition>'
    '</bpmn:conditionalEventDefinition></bpmn:startEvent>',
])
def test_conditional_events_are_refused_saying_why(xml):
    found = [p for p in problems(START_END + xml) if p["elementId"] == "Cond"]
    assert found and "conditional events are Camunda 8.9" in found[0]["message"], found
    assert "message event" in found[0]["message"]


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
    # Escalation, link and signal throw events (Camunda 8 rules).
    ('<bpmn:intermediateThrowEvent id="esc"><bpmn:escalationEventDefinition /></bpmn:intermediateThrowEvent>',
     "esc", "needs a bpmn:escalation with an escalationCode"),
    ('<bpmn:intermediateThrowEvent id="esc"><bpmn:escalationEventDefinition escalationRef="nope" />'
     '</bpmn:intermediateThrowEvent>', "esc", "escalationRef 'nope' does not name a bpmn:escalation"),
    ('<bpmn:task id="t" /><bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:escalationEventDefinition />'
     '</bpmn:boundaryEvent>', "b", "only be attached to a subprocess or a call activity"),
    ('<bpmn:startEvent id="s2"><bpmn:escalationEventDefinition /></bpmn:startEvent>', "s2",
     "an escalation start event is only allowed in an event subprocess"),
    ('<bpmn:intermediateThrowEvent id="lt"><bpmn:linkEventDefinition /></bpmn:intermediateThrowEvent>', "lt",
     "a link event needs a name"),
    ('<bpmn:intermediateThrowEvent id="lt"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateThrowEvent>',
     "lt", "no link catch event named 'a'"),
    ('<bpmn:intermediateCatchEvent id="c1"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateCatchEvent>'
     '<bpmn:intermediateCatchEvent id="c2"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateCatchEvent>',
     "c2", "the link name 'a' is caught twice in one scope"),
    ('<bpmn:intermediateThrowEvent id="lt"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateThrowEvent>'
     '<bpmn:intermediateCatchEvent id="lc"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateCatchEvent>'
     '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="lc" />', "lc", "a link catch event has no incoming"),
    ('<bpmn:endEvent id="Sig_End"><bpmn:signalEventDefinition /></bpmn:endEvent>', "Sig_End",
     "does not reference a bpmn:signal with a name"),
    # zeebe:calledElement bindingType: the rule called decisions use.
    ('<bpmn:callActivity id="call"><bpmn:extensionElements><zeebe:calledElement processId="c" '
     'bindingType="newest" /></bpmn:extensionElements></bpmn:callActivity>', "call",
     "zeebe:calledElement bindingType must be latest, deployment or versionTag, got 'newest'"),
    ('<bpmn:callActivity id="call"><bpmn:extensionElements><zeebe:calledElement processId="c" '
     'bindingType="versionTag" /></bpmn:extensionElements></bpmn:callActivity>', "call", "needs a versionTag"),
    ('<bpmn:callActivity id="call"><bpmn:extensionElements><zeebe:calledElement processId="=c" '
     'bindingType="deployment" /></bpmn:extensionElements></bpmn:callActivity>', "call", "static processId"),
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
     'eventType="complete" type="t" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "zeebe:taskListener eventType must be creating, assigning, updating, completing, canceling, got 'complete'"),
    ('<bpmn:userTask id="ut"><bpmn:extensionElements><zeebe:userTask /><zeebe:taskListeners><zeebe:taskListener '
     'eventType="completing" /></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>', "ut",
     "a zeebe:taskListener needs a job type"),
])
def test_structural_problems(body, element_id, text):
    found = problems(START_END + body)
    assert any(p["elementId"] == element_id and text in p["message"] for p in found), found


def test_a_catching_escalation_code_must_be_static():
    body = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="s9" /><bpmn:endEvent id="e9" />'
            '<bpmn:sequenceFlow id="f9" sourceRef="s9" targetRef="e9" /></bpmn:subProcess>'
            '<bpmn:boundaryEvent id="b" attachedToRef="sub">\n<bpmn:escalationEventDefinition escalationRef="Dyn" />'
            '</bpmn:boundaryEvent>')
    [found] = problems(START_END + body, '<bpmn:escalation id="Dyn" escalationCode="=code" />')
    assert (found["elementId"], found["elementKind"]) == ("b", "boundaryEvent")
    assert found["message"] == "the escalationCode of a catching escalation event must be static"
    assert found["line"] == 4


def test_throw_events_keep_what_the_runtime_needs():
    body = ('<bpmn:intermediateThrowEvent id="lt"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateThrowEvent>'
            '<bpmn:intermediateCatchEvent id="lc"><bpmn:linkEventDefinition name="a" /></bpmn:intermediateCatchEvent>'
            '<bpmn:intermediateThrowEvent id="esc"><bpmn:escalationEventDefinition escalationRef="E" />'
            '</bpmn:intermediateThrowEvent>')
    [graph] = parse_bpmn(doc(START_END + body, '<bpmn:escalation id="E" escalationCode="=code" />'), "t.bpmn")
    assert graph.elements["lt"].props == {"event": {"type": "link", "linkName": "a"}, "linkTarget": "lc"}
    assert graph.elements["esc"].props["event"] == {"type": "escalation", "escalationCode": "=code"}


def test_graph_keeps_normalized_expression_text():
    body = ('<bpmn:startEvent id="s" /><bpmn:task id="t"><bpmn:extensionElements><zeebe:ioMapping>'
            '<zeebe:output source="order.id" target="x" /></zeebe:ioMapping></bpmn:extensionElements></bpmn:task>')
    [graph] = parse_bpmn(doc(body), "t.bpmn")
    assert graph.elements["t"].props["outputs"] == [{"source": "=order.id", "target": "x"}]


# A compensable task T with its handler U, and what may go wrong around them (Camunda 8 rules).
COMP_T = ('<bpmn:task id="T" /><bpmn:boundaryEvent id="CB" attachedToRef="T"><bpmn:compensateEventDefinition />'
          '</bpmn:boundaryEvent>')
COMP_U = '<bpmn:task id="U" isForCompensation="true" />'
COMP_LINK = '<bpmn:association id="A1" sourceRef="CB" targetRef="U" />'


def test_a_compensable_task_with_its_handler_deploys_and_is_linked():
    body = START_END + COMP_T + COMP_U + COMP_LINK + (
        '<bpmn:intermediateThrowEvent id="th"><bpmn:compensateEventDefinition activityRef="T" />'
        '</bpmn:intermediateThrowEvent>')
    [graph] = parse_bpmn(doc(body), "t.bpmn")
    assert graph.compensation_handler("T") == "U"
    assert graph.elements["th"].props["event"] == {"type": "compensation", "activityRef": "T"}


@pytest.mark.parametrize(("body", "element_id", "kind", "text"), [
    (COMP_T + COMP_U, "CB", "boundaryEvent", "exactly one association to its compensation handler, found 0"),
    (COMP_T + '<bpmn:task id="U" />' + COMP_LINK, "CB", "boundaryEvent", "isForCompensation"),
    (COMP_T + COMP_U, "U", "task", "must be associated with a compensation boundary event"),
    (COMP_T + COMP_U + COMP_LINK + '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="U" />', "U", "task",
     "no incoming or outgoing sequence flows"),
    (COMP_T + COMP_U + COMP_LINK + '<bpmn:sequenceFlow id="f" sourceRef="CB" targetRef="e" />', "CB",
     "boundaryEvent", "no outgoing sequence flows"),
    (COMP_T + COMP_U + COMP_LINK + '<bpmn:boundaryEvent id="b2" attachedToRef="U"><bpmn:timerEventDefinition>'
     '<bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>', "U", "task",
     "cannot have boundary events"),
    ('<bpmn:intermediateThrowEvent id="th"><bpmn:compensateEventDefinition waitForCompletion="false" />'
     '</bpmn:intermediateThrowEvent>', "th", "intermediateThrowEvent", "waitForCompletion"),
    ('<bpmn:task id="X" /><bpmn:endEvent id="th"><bpmn:compensateEventDefinition activityRef="X" />'
     '</bpmn:endEvent>', "th", "endEvent", "without a compensation boundary event"),
    (COMP_T + COMP_U + COMP_LINK + '<bpmn:subProcess id="sub"><bpmn:startEvent id="s2" />'
     '<bpmn:intermediateThrowEvent id="th"><bpmn:compensateEventDefinition activityRef="T" />'
     '</bpmn:intermediateThrowEvent></bpmn:subProcess>', "th", "intermediateThrowEvent",
     "not name an activity in the scope"),
    ('<bpmn:subProcess id="esp" triggeredByEvent="true"><bpmn:startEvent id="cs">'
     '<bpmn:compensateEventDefinition /></bpmn:startEvent></bpmn:subProcess>', "cs", "startEvent",
     "compensation start event"),
    ('<bpmn:intermediateCatchEvent id="cc"><bpmn:compensateEventDefinition /></bpmn:intermediateCatchEvent>', "cc",
     "intermediateCatchEvent", "not supported"),
])
def test_compensation_problems_name_the_element_kind_and_line(body, element_id, kind, text):
    found = problems(START_END + body)
    hits = [p for p in found if p["elementId"] == element_id and text in p["message"]]
    assert hits, found
    assert hits[0]["elementKind"] == kind and hits[0]["line"], hits


def test_an_association_kept_in_the_collaboration_links_the_handler():
    xml = doc(START_END + COMP_T + COMP_U, extra='<bpmn:collaboration id="c"><bpmn:participant id="pp" '
              'processRef="p" />' + COMP_LINK + '</bpmn:collaboration>\n')
    [graph] = parse_bpmn(xml, "t.bpmn")
    assert graph.compensation_handler("T") == "U"
