"""BPMN for the runaway-guard tests: a loop that never waits, a process calling itself, a big collection."""

from __future__ import annotations

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://x">\n')


def looping(process_id: str = "runaway") -> bytes:
    """start → gateway → (n < limit) script n+1 → back to the gateway; (otherwise) → end."""
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:exclusiveGateway id="Check" default="FLoop">
    <bpmn:incoming>F1</bpmn:incoming><bpmn:incoming>FBack</bpmn:incoming>
    <bpmn:outgoing>FLoop</bpmn:outgoing><bpmn:outgoing>FDone</bpmn:outgoing></bpmn:exclusiveGateway>
  <bpmn:scriptTask id="Count"><bpmn:extensionElements><zeebe:script expression="=n + 1" resultVariable="n"/>
    </bpmn:extensionElements><bpmn:incoming>FLoop</bpmn:incoming><bpmn:outgoing>FBack</bpmn:outgoing></bpmn:scriptTask>
  <bpmn:endEvent id="End"><bpmn:incoming>FDone</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Check"/>
  <bpmn:sequenceFlow id="FLoop" sourceRef="Check" targetRef="Count"/>
  <bpmn:sequenceFlow id="FBack" sourceRef="Count" targetRef="Check"/>
  <bpmn:sequenceFlow id="FDone" sourceRef="Check" targetRef="End">
    <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=n &gt;= limit</bpmn:conditionExpression>
  </bpmn:sequenceFlow>
</bpmn:process></bpmn:definitions>''').encode()


def plain(process_id: str = "plain") -> bytes:
    """start → script → end: done in one command."""
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:scriptTask id="Work"><bpmn:extensionElements><zeebe:script expression="=1" resultVariable="done"/>
    </bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>
  <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work"/>
  <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="End"/>
</bpmn:process></bpmn:definitions>''').encode()


def self_calling(process_id: str = "recursive") -> bytes:
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:callActivity id="CallMe"><bpmn:extensionElements><zeebe:calledElement processId="{process_id}"/>
    </bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:callActivity>
  <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="CallMe"/>
  <bpmn:sequenceFlow id="F2" sourceRef="CallMe" targetRef="End"/>
</bpmn:process></bpmn:definitions>''').encode()


def collection(process_id: str = "fanout") -> bytes:
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:scriptTask id="Each">
    <bpmn:extensionElements><zeebe:script expression="=item" resultVariable="seen"/></bpmn:extensionElements>
    <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    <bpmn:multiInstanceLoopCharacteristics>
      <bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items" inputElement="item"/>
      </bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics></bpmn:scriptTask>
  <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Each"/>
  <bpmn:sequenceFlow id="F2" sourceRef="Each" targetRef="End"/>
</bpmn:process></bpmn:definitions>''').encode()
