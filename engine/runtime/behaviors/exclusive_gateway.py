from __future__ import annotations

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.gateway_leave import leave
from engine.runtime.state import InstanceRun


class ExclusiveGatewayBehavior(Behavior):
    """Takes the first outgoing flow (in document order) whose condition is true, else the default.

    No true condition and no default flow: a CONDITION_ERROR incident, the gateway stays active.
    As a join it merges: every arriving token passes through on its own.
    """

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        return leave(run, ei, element, first_only=True)
