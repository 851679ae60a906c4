"""The XML the Inspector draws: the deployed file itself, or, when the file carries no diagram
layout (no BPMN DI, common for generated BPMN and test files), the same file laid out
automatically by `bpmn-io` (a Python port of bpmn.io's `bpmn-auto-layout`, pinned in
requirements.txt).

The layout is computed on the server, once per definition (deployed sources never change, so
an in-process cache keyed by the definition key is enough), never stored over the deployed
source: the REST API's XML endpoint keeps answering the file exactly as it was deployed. Why
here and not in the browser: the page then needs no inline import map for ES modules (the
Tasklist and Inspector pages carry no inline script, so a strict Content-Security-Policy stays
possible) and no JavaScript build step; see README "Diagrams without layout".
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from lxml import etree

log = logging.getLogger(__name__)

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
CACHE_SIZE = 256


@dataclass(frozen=True)
class Diagram:
    xml: str
    laid_out: bool  # True: the file had no layout and was laid out automatically
    problem: str = ""  # why no layout could be made (the viewer then shows this)


_cache: OrderedDict[tuple[int, int], Diagram] = OrderedDict()
_lock = Lock()


def has_layout(source: str) -> bool:
    """Whether the file carries BPMN DI shapes (a diagram bpmn-js can draw)."""
    try:
        root = etree.fromstring(
            source.encode(), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        )
    except etree.XMLSyntaxError:
        return True  # let the viewer report what it finds
    return root.find(f".//{{{BPMNDI}}}BPMNShape") is not None


BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Children of a flow node that come before <incoming>/<outgoing> in the BPMN schema.
_BEFORE_FLOW_REFS = {f"{{{BPMN}}}{name}" for name in ("documentation", "extensionElements", "auditing", "monitoring",
                                                        "categoryValueRef", "incoming")}


def with_flow_refs(source: str) -> str:
    """The file with every flow node's <incoming>/<outgoing> references written out.

    They are optional in BPMN (the sequence flows' sourceRef/targetRef say the same) and the
    layout follows them to place elements and draw the flows, so files that leave them out
    (hand-written, generated) would be drawn without connections.
    """
    root = etree.fromstring(source.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    nodes = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
        flow_id = flow.get("id")
        for ref_attr, child in (("sourceRef", "outgoing"), ("targetRef", "incoming")):
            node = nodes.get(flow.get(ref_attr) or "")
            if node is None or any((c.text or "").strip() == flow_id for c in node.iter(f"{{{BPMN}}}{child}")):
                continue
            ref = etree.Element(f"{{{BPMN}}}{child}")
            ref.text = flow_id
            before = _BEFORE_FLOW_REFS if child == "outgoing" else _BEFORE_FLOW_REFS - {f"{{{BPMN}}}incoming"}
            position = 0
            for index, existing in enumerate(node):
                if existing.tag in before or existing.tag == f"{{{BPMN}}}{child}":
                    position = index + 1
            node.insert(position, ref)
    return etree.tostring(root, encoding="unicode")


def lay_out(source: str) -> Diagram:
    if has_layout(source):
        return Diagram(source, laid_out=False)
    try:
        from bpmn_io import layout_process

        return Diagram(layout_process(with_flow_refs(source)), laid_out=True)
    except Exception as error:  # a layout bug must never break the page: the viewer explains instead
        log.warning("automatic diagram layout failed: %s", error, exc_info=True)
        why = f"the file has no diagram layout and none could be made ({error})"
        return Diagram(source, laid_out=False, problem=why)


def diagram_for(definition_key: int, source: str) -> Diagram:
    key = (definition_key, hash(source))  # the source too: keys are only unique within one database
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    made = lay_out(source)
    with _lock:
        _cache[key] = made
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return made
