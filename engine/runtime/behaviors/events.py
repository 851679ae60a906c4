"""Start, intermediate and boundary events. End events live in end_event.py."""

from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime import compensation
from engine.runtime.behaviors.base import Behavior, WaitBehavior
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result


class StartEventBehavior(Behavior):
    """A start event passes the token on (its trigger, if any, already happened)."""


class IntermediateThrowEventBehavior(Behavior):
    """None intermediate throw event: passes the token on (message throw events are jobs).

    A compensation throw event passes it on once the handlers it invoked completed."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        event = element.props.get("event") or {}
        if event.get("type") == "compensation" and compensation.throw(run, ei, element):
            return
        complete(run, ei)


class IntermediateCatchEventBehavior(WaitBehavior):
    """Message, timer or signal intermediate catch event: waits for its trigger.

    After an event-based gateway that chose it, the trigger already happened: it completes at once.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        result = run.pending_results.pop(element.id, None)
        if result is None:
            super().activate(run, ei, element)
            return
        if result:
            set_result(run, ei, element, result)
        ei.data["triggered"] = True
        complete(run, ei)


class BoundaryEventBehavior(Behavior):
    """Activated by its trigger (error, message, timer); then it passes the token on."""
