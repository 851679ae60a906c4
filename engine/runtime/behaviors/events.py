"""Start, intermediate and boundary events. End events live in end_event.py."""

from __future__ import annotations

from engine.graph import Element
from engine.models import ElementInstance
from engine.runtime import compensation, tokens
from engine.runtime.behaviors.base import Behavior, WaitBehavior
from engine.runtime.catching import throw_escalation
from engine.runtime.expr import evaluate_string
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import complete
from engine.runtime.variables import set_result


def throw(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    """What a signal, escalation or link throw event (intermediate or end) does before it completes.

    - signal: broadcast to the tenant once this batch commits (engine/messages/signals.py, the
      same broadcast as POST /v2/signals/broadcast); its variables are the event's input mappings.
    - escalation: thrown to the enclosing scopes (engine/runtime/catching.py); an interrupting
      catch may end this event, else it goes on.
    - link: the token jumps to the link catch event of the same name in this scope.
    Then the event completes, unless an interrupting catch already terminated it.
    """
    event = element.props.get("event") or {}
    kind = event.get("type")
    if kind == "signal":
        name = evaluate_string(run, ei.key, event["signalName"], "the signal name")
        variables = {n: v.value for n, v in run.variables.get(ei.key, {}).items()}
        run.thrown_signals.append((name, variables, run.now))
        run.record("SIGNAL_THROWN", ei, signalName=name, variables=sorted(variables))
    elif kind == "escalation":
        throw_escalation(run, ei, evaluate_string(run, ei.key, event["escalationCode"], "the escalation code"))
    elif kind == "link":
        tokens.activate(run, run.graph.elements[element.props["linkTarget"]], ei.flow_scope_key)  # type: ignore[arg-type]
        run.record("LINK_THROWN", ei, linkName=event["linkName"], catchElementId=element.props["linkTarget"])
    if ei.state == tokens.ACTIVE:
        complete(run, ei)


class StartEventBehavior(Behavior):
    """A start event passes the token on (its trigger, if any, already happened)."""


class IntermediateThrowEventBehavior(Behavior):
    """Intermediate throw events: none passes the token on, signal / escalation / link throw
    (see `throw`); message throw events are jobs. A compensation throw event passes it on once the
    handlers it invoked completed."""

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        event = element.props.get("event") or {}
        if event.get("type") == "compensation":
            if not compensation.throw(run, ei, element):
                complete(run, ei)
            return
        throw(run, ei, element)


class IntermediateCatchEventBehavior(WaitBehavior):
    """Message, timer or signal intermediate catch event: waits for its trigger.

    After an event-based gateway that chose it, the trigger already happened: it completes at once.
    """

    def activate(self, run: InstanceRun, ei: ElementInstance, element: Element) -> None:
        if (element.props.get("event") or {}).get("type") == "link":
            complete(run, ei)  # a link catch event is where a link throw's token lands: it passes it on
            return
        result = run.pending_results.pop(element.id, None)
        if result is None:
            super().activate(run, ei, element)
            return
        if result:
            set_result(run, ei, element, result)
        ei.data["triggered"] = True
        complete(run, ei)


class BoundaryEventBehavior(Behavior):
    """Activated by its trigger (error, escalation, message, timer, signal); then it passes the token on."""
