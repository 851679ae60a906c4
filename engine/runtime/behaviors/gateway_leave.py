"""Leaving a conditional gateway: the flows whose conditions hold, else the default flow.

Exclusive gateways take the first such flow, inclusive gateways all of them; both fall back
to the default flow and raise a CONDITION_ERROR incident when nothing can be taken.
"""

from __future__ import annotations

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate_condition
from engine.runtime.state import InstanceRun


def leave(run: InstanceRun, ei: ElementInstance, element: Element, first_only: bool) -> list[Flow]:
    default = element.props.get("default")
    flows = run.graph.flows
    taken: list[Flow] = []
    for flow_id in element.outgoing:
        flow = flows[flow_id]
        if flow_id == default:
            continue
        if flow.condition is None or evaluate_condition(run, ei.key, flow.condition, flow.condition_language):
            taken.append(flow)
            if first_only:
                break
    if taken:
        return taken
    if default:
        return [flows[default]]
    if not element.outgoing or element.props.get("allowNone"):
        return []  # a JSON flow's guarded edges: none taken means the targets are skipped
    raise IncidentRaised(
        "CONDITION_ERROR",
        f"Expected at least one condition of gateway '{element.id}' to evaluate to true, or to have a default "
        "flow, but none did",
    )
