"""Walk a BPMN document and build one Graph per executable process.

Every element of the process is either handled by an entry of ELEMENT_PARSERS or
reported as unsupported: nothing is silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from engine.bpmn import zeebe
from engine.bpmn.errors import DefinitionError, Problem
from engine.bpmn.xml import BPMN_NS, local, ns, parse_xml
from engine.model import Element, Flow, Graph

# Children of flow elements that carry no execution semantics of their own.
_DESCRIPTIVE = {"documentation", "extensionElements", "incoming", "outgoing", "conditionExpression"}
# Process-level elements that are not flow nodes and need no behaviour.
_NON_FLOW = {"laneSet", "documentation", "extensionElements", "textAnnotation", "association", "dataObject",
             "dataObjectReference", "dataStoreReference", "group", "property", "ioSpecification"}

_EVENT_DEFINITIONS = {
    "messageEventDefinition", "timerEventDefinition", "errorEventDefinition", "signalEventDefinition",
    "terminateEventDefinition", "escalationEventDefinition", "compensateEventDefinition",
    "conditionalEventDefinition", "linkEventDefinition", "cancelEventDefinition",
}


class _Context:
    def __init__(self, resource_name: str, root: etree._Element):
        self.resource_name = resource_name
        self.root = root
        self.problems: list[Problem] = []

    def problem(self, message: str, el: etree._Element | None = None) -> None:
        self.problems.append(
            Problem(
                message,
                element_id=el.get("id") if el is not None else None,
                element_kind=local(el.tag) if el is not None else None,
                line=el.sourceline if el is not None else None,
            )
        )


def _event_definitions(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if ns(c.tag) == BPMN_NS and local(c.tag) in _EVENT_DEFINITIONS]


def _none_event(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    defs = _event_definitions(el)
    if defs:
        ctx.problem(f"{local(el.tag)} with {local(defs[0].tag)} is not supported yet", el)
        return None
    return {}


def _job_task(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    td = zeebe.task_definition(el)
    if td is None or not td["type"].strip():
        ctx.problem("a service task needs <zeebe:taskDefinition type=\"...\"> with a job type", el)
        return None
    retries = td["retries"].strip()
    if not retries.startswith("=") and not retries.lstrip("-").isdigit():
        ctx.problem(f"zeebe:taskDefinition retries must be a number or an expression, got '{retries}'", el)
        return None
    return {
        "jobType": td["type"],
        "retries": retries,
        "headers": zeebe.task_headers(el),
        **zeebe.io_mapping(el),
    }


def _pass_through(el: etree._Element, ctx: _Context) -> dict[str, Any] | None:
    return zeebe.io_mapping(el)


# tag → (kind, props parser). One line per supported element; behaviours live in engine/runtime/behaviors.
ELEMENT_PARSERS: dict[str, Callable[[etree._Element, _Context], dict[str, Any] | None]] = {
    "startEvent": _none_event,
    "endEvent": _none_event,
    "serviceTask": _job_task,
}


def _parse_process(proc: etree._Element, ctx: _Context) -> Graph | None:
    process_id = proc.get("id") or ""
    elements: dict[str, Element] = {}
    flows: dict[str, Flow] = {}
    flow_xml: list[tuple[etree._Element, str | None]] = []

    def walk(container: etree._Element, parent: str | None) -> None:
        for child in container:
            if not isinstance(child.tag, str) or ns(child.tag) != BPMN_NS:
                continue
            tag = local(child.tag)
            if tag == "sequenceFlow":
                flow_xml.append((child, parent))
                continue
            if tag in _NON_FLOW:
                continue
            el_id = child.get("id")
            if not el_id:
                ctx.problem(f"a {tag} has no id", child)
                continue
            if el_id in elements:
                ctx.problem(f"duplicate id '{el_id}'", child)
                continue
            handler = ELEMENT_PARSERS.get(tag)
            if handler is None:
                ctx.problem(f"element kind '{tag}' is not supported", child)
                continue
            props = handler(child, ctx)
            if props is None:
                continue
            elements[el_id] = Element(id=el_id, kind=tag, name=child.get("name", ""), parent=parent,
                                      props=props, line=child.sourceline)

    walk(proc, None)

    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for fx, parent in flow_xml:
        fid, src, tgt = fx.get("id") or "", fx.get("sourceRef") or "", fx.get("targetRef") or ""
        if not fid:
            ctx.problem("a sequenceFlow has no id", fx)
            continue
        for end, ref in (("sourceRef", src), ("targetRef", tgt)):
            if ref not in elements and not any(p.element_id == ref for p in ctx.problems):
                ctx.problem(f"sequenceFlow {end} '{ref}' does not name an element of this scope", fx)
        if src not in elements or tgt not in elements:
            continue
        cond = fx.find(f"{{{BPMN_NS}}}conditionExpression")
        flows[fid] = Flow(
            id=fid, source=src, target=tgt, name=fx.get("name", ""),
            condition=(cond.text or "").strip() if cond is not None else None,
            condition_language=cond.get("language") if cond is not None else None,
        )
        outgoing.setdefault(src, []).append(fid)
        incoming.setdefault(tgt, []).append(fid)

    elements = {
        eid: Element(id=e.id, kind=e.kind, name=e.name, parent=e.parent, props=e.props, line=e.line,
                     incoming=tuple(incoming.get(eid, ())), outgoing=tuple(outgoing.get(eid, ())))
        for eid, e in elements.items()
    }
    graph = Graph(process_id=process_id, name=proc.get("name", "") or "", elements=elements, flows=flows,
                  version_tag=_version_tag(proc))
    if not graph.start_events(None):
        ctx.problem(f"process '{process_id}' has no none start event", proc)
    return graph


def _version_tag(proc: etree._Element) -> str:
    tag = zeebe.extension(proc, "versionTag")
    return tag.get("value", "") if tag is not None else ""


def parse_bpmn(data: bytes, resource_name: str) -> list[Graph]:
    """Parse and validate; raise DefinitionError listing every problem found."""
    root = parse_xml(data, resource_name)
    ctx = _Context(resource_name, root)
    if ns(root.tag) != BPMN_NS or local(root.tag) != "definitions":
        raise DefinitionError(resource_name, [Problem("the root element is not bpmn:definitions", line=root.sourceline)])
    processes = root.findall(f"{{{BPMN_NS}}}process")
    executable = [p for p in processes if p.get("isExecutable", "false").lower() == "true"]
    if not executable:
        raise DefinitionError(resource_name, [Problem("the file has no executable process (isExecutable=\"true\")")])
    graphs = []
    for proc in executable:
        if not proc.get("id"):
            ctx.problem("a process has no id", proc)
            continue
        graph = _parse_process(proc, ctx)
        if graph is not None:
            graphs.append(graph)
    if ctx.problems:
        raise DefinitionError(resource_name, ctx.problems)
    return graphs
