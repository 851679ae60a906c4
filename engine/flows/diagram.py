"""A flow's graph written out as a BPMN file (without layout), so the Inspector draws a flow with the
same viewer, tokens, incidents and timeline as a BPMN process; `engine.definitions.diagram` lays it out.

Element ids are the graph's, so the Inspector's overlays (keyed by element id) land on the right shapes.
"""

from __future__ import annotations

from lxml import etree

from engine.graph import Element, Graph

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_TIMER = ("timeDuration", "timeDate", "timeCycle")


def _q(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def _event_definition(parent: etree._Element, element: Element) -> None:
    event = element.props.get("event") or {}
    kind = event.get("type")
    if kind == "timer":
        definition = etree.SubElement(parent, _q("timerEventDefinition"))
        for key in _TIMER:
            if event.get(key):
                etree.SubElement(definition, _q(key)).text = str(event[key])
    elif kind in ("error", "message", "terminate", "signal"):
        etree.SubElement(parent, _q(f"{kind}EventDefinition"))


def to_bpmn(graph: Graph) -> str:
    root = etree.Element(_q("definitions"), nsmap={"bpmn": BPMN}, id="flow_definitions",
                         targetNamespace="https://flowsync.dev/flows")
    process = etree.SubElement(root, _q("process"), id=graph.process_id, name=graph.name, isExecutable="true")
    for element in graph.elements.values():
        attrs = {"id": element.id, "name": element.name or element.props.get("node", element.id)}
        if element.kind == "boundaryEvent":
            attrs["attachedToRef"] = element.props["attachedTo"]
            attrs["cancelActivity"] = "true"
        node = etree.SubElement(process, _q(element.kind), **attrs)
        if "event" in element.props:
            _event_definition(node, element)
    for flow in graph.flows.values():
        attrs = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
        if flow.name:
            attrs["name"] = flow.name
        seq = etree.SubElement(process, _q("sequenceFlow"), **attrs)
        if flow.condition:
            etree.SubElement(seq, _q("conditionExpression")).text = flow.condition
    return etree.tostring(root, encoding="unicode")
