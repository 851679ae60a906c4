"""Add BPMNDI (shapes and edges) to a hand-written BPMN file, as Camunda Modeler would store it.

    .venv/bin/python tests/engine/conformance/draw.py tests/engine/conformance/bpmn/*.bpmn

The conformance files are written by hand for their semantics; this lays them out
left to right (layers by longest path from the start events), so that they open in
Camunda Modeler and bpmn-js with a readable diagram. An existing diagram is replaced.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SIZES = {"startEvent": (36, 36), "endEvent": (36, 36), "intermediateThrowEvent": (36, 36),
         "intermediateCatchEvent": (36, 36), "boundaryEvent": (36, 36), "exclusiveGateway": (50, 50),
         "parallelGateway": (50, 50), "inclusiveGateway": (50, 50), "eventBasedGateway": (50, 50)}
GAP_X, GAP_Y, PAD = 60, 40, 30


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


class Layout:
    def __init__(self) -> None:
        self.bounds: dict[str, tuple[float, float, float, float]] = {}
        self.expanded: set[str] = set()

    def place(self, container: etree._Element, x0: float, y0: float) -> tuple[float, float]:
        """Lay out the flow nodes of a container at (x0, y0); return the size used."""
        nodes = [c for c in container if isinstance(c.tag, str) and c.tag.startswith(f"{{{BPMN}}}")
                 and local(c) not in ("sequenceFlow", "boundaryEvent", "extensionElements", "documentation",
                                      "laneSet", "textAnnotation", "association", "incoming", "outgoing",
                                      "multiInstanceLoopCharacteristics", "ioSpecification", "property")]
        flows = [c for c in container if isinstance(c.tag, str) and c.tag == q(BPMN, "sequenceFlow")]
        ids = [n.get("id") for n in nodes]
        succ: dict[str, list[str]] = {i: [] for i in ids}
        indeg: dict[str, int] = {i: 0 for i in ids}
        boundary_owner = {b.get("id"): b.get("attachedToRef") for b in container.findall(q(BPMN, "boundaryEvent"))}
        for f in flows:
            s, t = f.get("sourceRef"), f.get("targetRef")
            s = boundary_owner.get(s, s)
            if s in succ and t in succ:
                succ[s].append(t)
        # Layers by longest path, ignoring back edges (a DFS from the roots finds them).
        order: list[str] = []
        state: dict[str, int] = {}
        back: set[tuple[str, str]] = set()

        def dfs(n: str) -> None:
            state[n] = 1
            for m in succ[n]:
                if state.get(m) == 1:
                    back.add((n, m))
                elif m not in state:
                    dfs(m)
            state[n] = 2
            order.append(n)

        for f in flows:
            if f.get("targetRef") in indeg and (f.get("sourceRef"), f.get("targetRef")) not in back:
                pass
        for n in ids:
            if n not in state:
                dfs(n)
        for s in succ:
            for t in succ[s]:
                if (s, t) not in back:
                    indeg[t] += 1
        layer = {n: 0 for n in ids}
        for n in reversed(order):
            for m in succ[n]:
                if (n, m) not in back:
                    layer[m] = max(layer[m], layer[n] + 1)
        sizes: dict[str, tuple[float, float]] = {}
        by_id = {n.get("id"): n for n in nodes}
        for n in nodes:
            if local(n) == "subProcess":
                w, h = self.place(n, 0, 0)  # measure
                sizes[n.get("id")] = (w + 2 * PAD, h + 2 * PAD)
            else:
                sizes[n.get("id")] = SIZES.get(local(n), (100, 80))
        columns: dict[int, list[str]] = {}
        for n in ids:
            columns.setdefault(layer[n], []).append(n)
        x = x0
        height = 0.0
        for col in sorted(columns):
            members = columns[col]
            width = max(sizes[m][0] for m in members)
            y = y0
            for m in members:
                w, h = sizes[m]
                bx, by = x + (width - w) / 2, y + max(0.0, (80 - h) / 2)
                if local(by_id[m]) == "subProcess":
                    self.place(by_id[m], bx + PAD, by + PAD)
                    self.expanded.add(m)
                self.bounds[m] = (bx, by, w, h)
                y += max(h, 80) + GAP_Y + 30
            height = max(height, y - y0)
            x += width + GAP_X
        for b in container.findall(q(BPMN, "boundaryEvent")):
            ax, ay, aw, ah = self.bounds[b.get("attachedToRef")]
            self.bounds[b.get("id")] = (ax + aw - 50, ay + ah - 18, 36, 36)
        return x - x0 - GAP_X, height


def add_flow_refs(root: etree._Element) -> None:
    """Give every flow node its bpmn:incoming/bpmn:outgoing children, as Camunda Modeler writes them."""
    nodes = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for flow in root.iter(q(BPMN, "sequenceFlow")):
        for ref, tag in ((flow.get("sourceRef"), "outgoing"), (flow.get("targetRef"), "incoming")):
            node = nodes.get(ref)
            if node is None or any(c.text == flow.get("id") for c in node.findall(q(BPMN, tag))):
                continue
            position = 0
            for i, child in enumerate(node):
                if isinstance(child.tag, str) and local(child) in ("documentation", "extensionElements", "incoming") + (
                        ("outgoing",) if tag == "outgoing" else ()):
                    position = i + 1
            ref_el = etree.Element(q(BPMN, tag))
            ref_el.text = flow.get("id")
            node.insert(position, ref_el)


def draw(path: Path) -> None:
    parser = etree.XMLParser(remove_blank_text=True)
    tree = etree.parse(str(path), parser)
    root = tree.getroot()
    add_flow_refs(root)
    for old in root.findall(q(BPMNDI, "BPMNDiagram")):
        root.remove(old)
    layout = Layout()
    y = 80.0
    planes = []
    for proc in root.findall(q(BPMN, "process")):
        _, h = layout.place(proc, 160, y)
        planes.append(proc)
        y += h + 80
    diagram = etree.SubElement(root, q(BPMNDI, "BPMNDiagram"), id="BPMNDiagram_1")
    plane = etree.SubElement(diagram, q(BPMNDI, "BPMNPlane"), id="BPMNPlane_1", bpmnElement=planes[0].get("id"))
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        eid = el.get("id")
        if eid in layout.bounds:
            x, yy, w, h = layout.bounds[eid]
            attrs = {"id": f"{eid}_di", "bpmnElement": eid}
            if eid in layout.expanded:
                attrs["isExpanded"] = "true"
            shape = etree.SubElement(plane, q(BPMNDI, "BPMNShape"), **attrs)
            etree.SubElement(shape, q(DC, "Bounds"), x=f"{x:g}", y=f"{yy:g}", width=f"{w:g}", height=f"{h:g}")
    for el in root.iter(q(BPMN, "sequenceFlow")):
        s, t = layout.bounds.get(el.get("sourceRef")), layout.bounds.get(el.get("targetRef"))
        if not s or not t:
            continue
        edge = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{el.get('id')}_di", bpmnElement=el.get("id"))
        sx, sy = s[0] + s[2], s[1] + s[3] / 2
        tx, ty = t[0], t[1] + t[3] / 2
        points = [(sx, sy)]
        if abs(sy - ty) > 1:
            mid = (sx + tx) / 2 if tx > sx else sx + 20
            points += [(mid, sy), (mid, ty)]
        points.append((tx, ty))
        for px, py in points:
            etree.SubElement(edge, q(DI, "waypoint"), x=f"{px:g}", y=f"{py:g}")
    for el in root.iter(q(BPMN, "association")):  # compensation boundary event → its handler
        s, t = layout.bounds.get(el.get("sourceRef")), layout.bounds.get(el.get("targetRef"))
        if not s or not t:
            continue
        edge = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{el.get('id')}_di", bpmnElement=el.get("id"))
        for px, py in ((s[0] + s[2] / 2, s[1] + s[3]), (t[0] + t[2] / 2, t[1])):
            etree.SubElement(edge, q(DI, "waypoint"), x=f"{px:g}", y=f"{py:g}")
    etree.indent(tree, space="  ")
    tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        draw(Path(name))
