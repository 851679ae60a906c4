"""Timers and message/signal subscriptions of running element instances.

An element instance that can be woken by an event opens one wait row per event it
listens for (`open_waits`): its own event (intermediate catch, receive task), the
events after an event-based gateway, the boundary events of an activity, the event
subprocess starts of a scope. They close when that element instance ends. A trigger
(TRIGGER_TIMER, CORRELATE_MESSAGE, TRIGGER_SIGNAL command) is dispatched on the
relation between the waiting element instance and the event that fired.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.graph import CONTAINER_KINDS, Element
from engine.models import ElementInstance, MessageSubscription, SignalSubscription, Timer
from engine.runtime import tokens
from engine.runtime.catching import trigger
from engine.runtime.errors import CommandRejected, IncidentRaised
from engine.runtime.expr import evaluate, evaluate_string, why
from engine.runtime.state import InstanceRun
from engine.runtime.variables import set_result
from engine.store.rows import new_row
from engine.timers import schedule

ACTIVE = ElementInstance.State.ACTIVE
WAIT_EVENTS = ("message", "timer", "signal")


def _event(element: Element) -> dict[str, Any]:
    return element.props.get("event") or {}


def listened_events(run: InstanceRun, element: Element) -> list[Element]:
    """The catch events an instance of `element` waits for (cached per element on the graph)."""

    def build() -> list[Element]:
        found: list[Element] = []
        graph = run.graph
        if element.kind in ("intermediateCatchEvent", "receiveTask") and _event(element).get("type") in WAIT_EVENTS:
            found.append(element)
        if element.kind == "eventBasedGateway":
            found += [graph.elements[graph.flows[f].target] for f in element.outgoing]
        if element.kind != "process":
            found += [b for b in graph.boundary_events(element.id) if _event(b).get("type") in WAIT_EVENTS]
        if element.kind in CONTAINER_KINDS:
            scope = None if element.kind == "process" else element.id
            for esp in graph.event_subprocesses(scope):
                found += [s for s in graph.event_starts(esp.id) if _event(s).get("type") in WAIT_EVENTS]
        return found

    return run.graph._cached(("waits", element.id), build)


def open_waits(run: InstanceRun, ei: ElementInstance, element: Element) -> None:
    """Open a timer or subscription for every event the element instance listens for."""
    for event in listened_events(run, element):
        if event is element and ei.data.get("triggered"):
            continue  # chosen by an event-based gateway: its trigger already happened
        open_wait(run, ei, event)


def open_wait(run: InstanceRun, ei: ElementInstance, event: Element) -> None:
    """Open the timer or subscription of one event the element instance listens for."""
    spec = _event(event)
    kind = spec["type"]
    if kind == "timer":
        _open_timer(run, ei, event, spec)
    elif kind == "message":
        correlation = spec.get("correlationKey")
        value = evaluate(run, ei.key, correlation) if correlation else ""
        if value is None or isinstance(value, dict | list):
            raise IncidentRaised("EXTRACT_VALUE_ERROR", f"the correlation key of '{event.id}' evaluated to "
                                 f"{value!r}; expected a string or number{why(run, ei.key, correlation, value)}")
        name = evaluate_string(run, ei.key, spec["messageName"], "the message name")
        sub = new_row(MessageSubscription, key=run.keys.take(), tenant_id=run.tenant_id,
                      process_instance_key=run.instance.key, element_instance_key=ei.key,
                      process_definition_key=run.definition.key, bpmn_process_id=run.definition.bpmn_process_id,
                      element_id=event.id, message_name=name, correlation_key=_string(value),
                      state=MessageSubscription.State.ACTIVE, created_at=run.now)
        run.add_wait("message_subscriptions", sub, ei.key)
        run.record("MESSAGE_SUBSCRIPTION_CREATED", ei, messageName=sub.message_name,
                   correlationKey=sub.correlation_key, catchElementId=event.id)
    else:
        sub = new_row(SignalSubscription, key=run.keys.take(), tenant_id=run.tenant_id,
                      process_instance_key=run.instance.key, element_instance_key=ei.key,
                      process_definition_key=run.definition.key, element_id=event.id,
                      signal_name=evaluate_string(run, ei.key, spec["signalName"], "the signal name"),
                      state=SignalSubscription.State.ACTIVE, created_at=run.now)
        run.add_wait("signal_subscriptions", sub, ei.key)
        run.record("SIGNAL_SUBSCRIPTION_CREATED", ei, signalName=sub.signal_name, catchElementId=event.id)


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _open_timer(run: InstanceRun, ei: ElementInstance, event: Element, spec: dict[str, Any],
                after: datetime | None = None, repetitions: int | None = None) -> None:
    kind = next(k for k in ("timeDate", "timeDuration", "timeCycle") if spec.get(k))
    value = evaluate(run, ei.key, spec[kind])
    if value is None:
        raise IncidentRaised("EXTRACT_VALUE_ERROR", f"timer of '{event.id}': expected a date, a duration or a cycle, "
                                                    f"but the value is null{why(run, ei.key, spec[kind], value)}")
    if isinstance(value, datetime):
        value = value.isoformat()
    try:
        if after is not None:
            due, reps = schedule.next_due(str(value), after), repetitions if repetitions is not None else -1
        else:
            due, reps = schedule.first_due({"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}[kind],
                                           str(value), run.now)
    except schedule.TimerSpecError as exc:
        raise IncidentRaised("EXTRACT_VALUE_ERROR", f"timer of '{event.id}': {exc}") from None
    timer = new_row(Timer, key=run.keys.take(), tenant_id=run.tenant_id, process_instance_key=run.instance.key,
                    element_instance_key=ei.key, process_definition_key=run.definition.key, element_id=event.id,
                    due_at=due, repetitions=reps, spec=str(value) if kind == "timeCycle" else "",
                    state=Timer.State.ACTIVE, created_at=run.now)
    run.add_wait("timers", timer, ei.key)
    run.record("TIMER_CREATED", ei, timerKey=str(timer.key), dueAt=due.isoformat(), catchElementId=event.id)


def _waiting(run: InstanceRun, payload: dict[str, Any]) -> tuple[ElementInstance, Element]:
    ei = run.elements.get(int(payload["elementInstanceKey"]))
    if ei is None or ei.state != ACTIVE:
        raise CommandRejected("the element instance that waited for this event is no longer active")
    event = run.graph.elements.get(payload["elementId"])
    if event is None:
        raise CommandRejected(f"unknown catch event {payload['elementId']}")
    return ei, event


def fire(run: InstanceRun, ei: ElementInstance, event: Element, variables: dict[str, Any]) -> None:
    """The event `event` that `ei` waited for happened: continue the process accordingly."""
    element = run.element(ei.element_id)
    if event.id == ei.element_id:
        # Intermediate catch event or receive task: the element itself completes.
        run.close_waits(ei.key)
        if variables:
            set_result(run, ei, element, variables)
        tokens.complete(run, ei)
    elif element.kind == "eventBasedGateway":
        run.close_waits(ei.key)
        flow = next(run.graph.flows[f] for f in element.outgoing if run.graph.flows[f].target == event.id)
        run.record("EVENT_BASED_GATEWAY_DECIDED", ei, catchElementId=event.id)
        ei.data["chosenFlow"] = flow.id
        run.touch("elements", ei)
        tokens.complete(run, ei)
        run.pending_results[event.id] = variables
    else:
        # A boundary event of `ei`, or an event subprocess start inside it.
        trigger(run, event, ei, variables)


def trigger_timer(run: InstanceRun, payload: dict[str, Any]) -> None:
    timer = run.timers_by_key.get(int(payload["timerKey"]))
    if timer is not None and timer.state == Timer.State.ACTIVE:
        timer.state = Timer.State.TRIGGERED
        run.touch("timers", timer)
    ei, event = _waiting(run, payload)
    run.record("TIMER_TRIGGERED", ei, timerKey=str(payload["timerKey"]), catchElementId=event.id)
    spec = _event(event)
    non_interrupting_cycle = (not event.props.get("interrupting", True)) and spec.get("timeCycle")
    reps = int(payload.get("repetitions") or 1)
    fire(run, ei, event, {})
    if non_interrupting_cycle and reps != 1 and ei.state == ACTIVE:
        # The next round of a cycle: due one interval after this one fired, deterministic.
        due = datetime.fromisoformat(payload["dueAt"])
        _open_timer(run, ei, event, spec, after=due, repetitions=reps - 1 if reps > 1 else -1)


def correlate_message(run: InstanceRun, payload: dict[str, Any]) -> None:
    try:
        ei, event = _waiting(run, payload)
    except CommandRejected:
        # The element stopped waiting after the message was handed over (a boundary event, a cancel
        # came first): the message was not received here, so it stays available to this instance.
        if payload.get("messageKey"):
            run.refused_messages.append(int(payload["messageKey"]))
        raise
    sub = run.message_subscriptions_by_key.get(int(payload["subscriptionKey"]))
    run.record("MESSAGE_CORRELATED", ei, messageName=payload.get("messageName"),
               messageKey=payload.get("messageKey"), catchElementId=event.id)
    variables = payload.get("variables") or {}
    fire(run, ei, event, variables)
    if sub is not None and ei.state == ACTIVE and not event.props.get("interrupting", True):
        # A non-interrupting boundary or event subprocess start keeps listening.
        sub.state = MessageSubscription.State.ACTIVE
        run.touch("message_subscriptions", sub)


def trigger_signal(run: InstanceRun, payload: dict[str, Any]) -> None:
    ei, event = _waiting(run, payload)
    run.record("SIGNAL_TRIGGERED", ei, signalName=payload.get("signalName"), catchElementId=event.id)
    fire(run, ei, event, payload.get("variables") or {})
