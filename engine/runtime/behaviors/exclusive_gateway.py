from __future__ import annotations

from engine.model import Element, Flow
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate_condition
from engine.runtime.state import InstanceRun


class ExclusiveGatewayBehavior(Behavior):
    """Takes the first outgoing flow (in document order) whose condition is true, else the default.

    No true condition and no default flow: a CONDITION_ERROR incident, the gateway stays active.
    As a join it merges: every arriving token passes through on its own.
    """

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        default = element.props.get("default")
        flows = run.graph.flows
        for flow_id in element.outgoing:
            flow = flows[flow_id]
            if flow_id == default:
                continue
            if flow.condition is None or evaluate_condition(run, ei.key, flow.condition, flow.condition_language):
                return [flow]
        if default:
            return [flows[default]]
        if not element.outgoing:
            return []
        raise IncidentRaised(
            "CONDITION_ERROR",
            f"Expected at least one condition of gateway '{element.id}' to evaluate to true, or to have a default "
            "flow, but none did",
        )
