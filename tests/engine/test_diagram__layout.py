"""Diagrams for the Inspector: files without BPMN DI are laid out; files with DI are left alone."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from engine.definitions.diagram import BPMNDI, diagram_for, has_layout, lay_out, with_flow_refs

DEMO = Path(__file__).resolve().parents[2] / "engine" / "demo"


def shapes_and_edges(xml: str) -> tuple[set[str], set[str]]:
    root = etree.fromstring(xml.encode())
    shapes = {e.get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {e.get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNEdge")}
    return shapes, edges


def test_a_file_with_layout_is_served_as_deployed():
    source = (DEMO / "order-process.bpmn").read_text()
    drawn = lay_out(source)
    assert has_layout(source) and drawn.xml == source and not drawn.laid_out


def test_files_without_layout_get_a_shape_per_element_and_an_edge_per_flow():
    for name in ("expense-claim.bpmn", "invoice-approval.bpmn", "order-messages.bpmn"):
        source = (DEMO / name).read_text()
        assert not has_layout(source), name
        drawn = lay_out(source)
        assert drawn.laid_out and not drawn.problem, name
        root = etree.fromstring(source.encode())
        flows = {e.get("id") for e in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow")}
        nodes = {e.get("sourceRef") for e in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow")}
        shapes, edges = shapes_and_edges(drawn.xml)
        assert edges == flows, name  # order-messages.bpmn writes no <incoming>/<outgoing>: added first
        assert nodes <= shapes, name


def test_flow_refs_are_added_only_where_missing():
    source = (DEMO / "order-messages.bpmn").read_text()
    once = with_flow_refs(source)
    assert once.count("<bpmn:outgoing>") == 8 and once.count("<bpmn:incoming>") == 8
    assert with_flow_refs(once).count("<bpmn:outgoing>") == 8


def test_a_layout_failure_is_explained_not_raised(monkeypatch):
    import bpmn_io

    def broken(xml: str) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(bpmn_io, "layout_process", broken)
    drawn = lay_out((DEMO / "invoice-approval.bpmn").read_text())
    assert not drawn.laid_out and "boom" in drawn.problem


def test_layouts_are_cached_per_definition_and_source():
    source = (DEMO / "expense-claim.bpmn").read_text()
    assert diagram_for(1, source) is diagram_for(1, source)
    other = source.replace('name="Expense claim"', 'name="Expense claim 2"')
    assert diagram_for(1, other) is not diagram_for(1, source)
