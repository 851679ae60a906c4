from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.errors import IncidentRaised
from engine.runtime.expr import evaluate, why
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


def activatable(run: InstanceRun, element: Element) -> dict[str, Element]:
    """The inner elements an ad-hoc subprocess may activate: those no sequence flow leads to (Camunda 8)."""
    return {e.id: e for e in run.graph.elements.values()
            if e.parent == element.id and not e.incoming and e.kind not in ("boundaryEvent", "eventSubProcess")}


class AdHocSubProcessBehavior(Behavior):
    """Ad-hoc subprocess (Camunda 8.7, run by the engine): on entry, after its input mappings, activates the inner
    elements whose ids `activeElementsCollection` lists (none: it stays active). It completes when everything it
    started is done, or, with a `completionCondition`, when that holds after an inner completion (steps.py)."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        text = element.props.get("activeElements")
        if not text:
            run.record("ELEMENT_WAITING", ei)
            return
        ids = evaluate(run, ei.key, text)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"activeElementsCollection of ad-hoc subprocess "
                                                        f"'{element.id}' must be a list of element ids, got {ids!r}"
                                                        f"{why(run, ei.key, text, ids)}")
        allowed = activatable(run, element)
        unknown = [i for i in ids if i not in allowed]
        if unknown:
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"activeElementsCollection names {unknown!r}, which are not "
                                                        f"elements ad-hoc subprocess '{element.id}' can activate "
                                                        f"({', '.join(sorted(allowed))})")
        if not ids:
            run.record("ELEMENT_WAITING", ei)
        for element_id in ids:
            activate(run, allowed[element_id], ei.key)
