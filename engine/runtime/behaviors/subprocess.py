from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import activate


class SubProcessBehavior(Behavior):
    """Embedded subprocess: its own flow and variable scope; starts at its none start event and
    completes (taking its outgoing flows) when no token is left inside."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        activate(run, run.graph.start_events(element.id)[0], ei.key)


class EventSubProcessBehavior(Behavior):
    """Event subprocess, once triggered (the trigger's variables already applied to it): starts at its
    event start event and completes when no token is left inside; its flow scope completes after it
    if nothing else runs there."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        activate(run, run.graph.event_starts(element.id)[0], ei.key)
