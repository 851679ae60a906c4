"""What a process instance modification may touch: one rule, read by the action (before the
write, answered as 4xx) and by the runtime (again when the command applies, state may have moved).

Supported (Camunda 8 semantics): activate any flow element whose flow scope is the process or an
*active* subprocess instance (named by `ancestorElementInstanceKey`, or the only active one);
terminate any active element instance except the process itself (use cancellation) and one
instance of a multi-instance activity (terminate its body). Refused: boundary events and start
events of event subprocesses (they are triggered, not entered), catch events behind an
event-based gateway (activate the gateway), and a target whose flow scope has no active instance
(FlowSync does not create missing subprocess scopes).
"""

from __future__ import annotations

from engine.graph import Graph

UNSUPPORTED_KINDS = {"boundaryEvent": "a boundary event is triggered, not activated; activate its outgoing target"}


def activation_refusal(graph: Graph, element_id: str) -> str | None:
    """Why `element_id` cannot be activated by a modification, or None when it can."""
    element = graph.elements.get(element_id)
    if element is None:
        return f"element '{element_id}' does not exist in process '{graph.process_id}'"
    if element.kind in UNSUPPORTED_KINDS:
        return f"cannot activate '{element_id}': {UNSUPPORTED_KINDS[element.kind]}"
    parent = graph.elements.get(element.parent) if element.parent else None
    if element.kind == "startEvent" and parent is not None and parent.kind == "eventSubProcess":
        return f"cannot activate '{element_id}': the start event of an event subprocess is triggered by its event"
    for flow_id in element.incoming:
        flow = graph.flows.get(flow_id)
        source = graph.elements.get(flow.source) if flow is not None else None
        if source is not None and source.kind == "eventBasedGateway":
            return (f"cannot activate '{element_id}': it belongs to event-based gateway '{source.id}'; "
                    "activate the gateway instead")
    return None
