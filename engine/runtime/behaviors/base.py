from __future__ import annotations

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import activate, complete


class Behavior:
    """Defaults: a pass-through element that completes at once and takes all outgoing flows.

    Manual tasks, undefined tasks (`bpmn:task`), none intermediate throw events and
    boundary events (once triggered) behave exactly like this.
    """

    def arrive(self, run: InstanceRun, element: Element, scope_key: int, flow: Flow | None) -> None:
        """A token arrives over `flow`; most elements simply activate (joins count first)."""
        activate(run, element, scope_key, flow.id if flow else None)

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        complete(run, ei)

    def before_complete(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """Last chance to act before output mappings run and the instance is marked completed."""

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        """The flows to take when the element completes (raise IncidentRaised if none can be chosen)."""
        return [run.graph.flows[f] for f in element.outgoing]

    def after_complete(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """After the instance is marked completed, before its flows are taken."""

    def terminate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        """Withdraw what the element waits on (jobs, user tasks, child instances, subscriptions)."""


class WaitBehavior(Behavior):
    """Waits for a trigger from outside (message, timer, signal): activates and stays active.

    The triggers themselves (subscriptions, timers) belong to the wait-states machinery.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        run.record("ELEMENT_WAITING", ei, event=element.props.get("event", {}).get("type"))
