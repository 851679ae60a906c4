from __future__ import annotations

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime.behaviors.base import WaitBehavior
from engine.runtime.state import InstanceRun


class EventBasedGatewayBehavior(WaitBehavior):
    """Waits for the first of the catch events after it to be triggered; that event's flow is taken
    and the others are withdrawn. The race itself (subscriptions, timers) is the wait-states machinery's."""

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        return [run.graph.flows[ei.data["chosenFlow"]]]
