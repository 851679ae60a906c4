"""Ending tokens early: terminate an element instance (children first) or a whole scope.

Termination is immediate, except where Camunda 8.8 runs jobs first: a user task with `canceling` task
listeners stays active, its task CANCELING, until the last listener job completed. Such an element
instance is *terminating* (`data["terminating"]`, durable with the instance's rows): its waits are
withdrawn, nothing completes it, and what terminated it waits for it. A scope being terminated is
terminating until its last child ended; an interrupting boundary event is activated, an interrupting
event subprocess started, a multi-instance body completed by its completion condition, a scope a
modification emptied ended, and a cancelled instance ends, only once the elements they ended are
gone (`terminated`). What waits is kept in element instance data, so a worker dying in between loses
nothing: the listener job's completion is a command like any other.

A call activity being terminated waits likewise for its child instance (Camunda 8: the call activity is
terminated once the child is): it sends the child CANCEL_INSTANCE and keeps `data[AWAIT_CHILD]` until the
child's CHILD_TERMINATED (or CHILD_COMPLETED, if it completed meanwhile) comes back; a child with canceling
task listeners ends only after them, and so, through every level of call activities, does what waits above.

Nothing that waits so takes a new event: a terminating element instance's timers and subscriptions close
when its termination starts (in the transaction of the command that terminated it), and a scope waiting
for its terminating children before it goes on (`AFTER`: an interrupting event subprocess, a terminate end
event, a multi-instance completion condition, a modification that emptied it) closes the subscriptions and
timers of its event subprocess starts then, as Camunda does; only its boundary events still listen (one may
still interrupt it). A message published meanwhile therefore stays buffered for whoever subscribes next, and
a closed timer that falls due does not fire.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from engine.models import ElementInstance, ProcessInstance
from engine.runtime import listeners
from engine.runtime.registry import behavior_of
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import ACTIVE, AWAIT_CHILD, TERMINATED, activate, check_scope, complete, end_instance

# What a scope does once the terminating elements inside it are gone (`scope.data["afterTerminations"]`).
AFTER = "afterTerminations"


def terminating(ei: ElementInstance) -> bool:
    """Whether the element instance is on its way out, waiting for canceling task listeners (its own or inside)."""
    return "terminating" in ei.data


def terminate(run: InstanceRun, ei: ElementInstance) -> bool:
    """Terminate an element instance and everything inside it, children first.

    False when it cannot end yet (canceling task listeners of its own or of an element inside run
    first): it is terminating, and `terminated` ends it later.
    """
    if terminating(ei):
        return False  # already on its way out
    waiting = False
    for child_key in sorted(run.active_children(ei.key)):
        waiting = not terminate(run, run.elements[child_key]) or waiting
    element = run.element(ei.element_id)
    listeners.cancel(run, ei)  # first: the element's terminate may open a canceling listener in its place
    behavior_of(ei, element).terminate(run, ei, element)
    if ei.data.get("tokens"):
        del ei.data["tokens"]
    if waiting or held(ei):
        ei.data["terminating"] = {}
        ei.data.pop(AFTER, None)  # the scope itself goes: what it would have done after an interruption does not
        run.touch("elements", ei)
        run.close_waits(ei.key)  # no event of it or of its boundary events is taken any more
        run.record("ELEMENT_TERMINATING", ei)
        return False
    run.end_element_instance(ei, TERMINATED)
    run.record("ELEMENT_TERMINATED", ei)
    return True


def held(ei: ElementInstance) -> bool:
    """Whether the element instance itself still waits for something before it can end: a listener job (or
    the incident that stopped creating it), or the end of its child instance (a call activity)."""
    return listeners.waiting(ei) or AWAIT_CHILD in ei.data


def release(run: InstanceRun, ei: ElementInstance) -> None:
    """What a terminating element instance waited for is done: it ends if nothing else holds it."""
    if terminating(ei) and not held(ei) and not run.active_children(ei.key):
        terminated(run, ei)


def terminated(run: InstanceRun, ei: ElementInstance) -> None:
    """A terminating element instance is done waiting: it ends, and what waited for it goes on."""
    then: dict[str, Any] = ei.data.pop("terminating", None) or {}
    run.end_element_instance(ei, TERMINATED)
    run.record("ELEMENT_TERMINATED", ei)
    if ei.flow_scope_key is None:
        end_instance(run, ProcessInstance.State.TERMINATED)  # a cancelled instance ends now
        return
    scope = run.elements.get(ei.flow_scope_key)
    if scope is None or scope.state != ACTIVE:
        return
    if terminating(scope):
        if not run.active_children(scope.key):
            terminated(run, scope)
        return
    if "activate" in then:  # an interrupting boundary event, activated once the element it interrupts ended
        activate(run, run.graph.elements[then["activate"]], scope.key, result=then.get("variables") or None)
    if any(terminating(run.elements[k]) for k in run.active_children(scope.key)):
        return
    after = scope.data.pop(AFTER, None)
    if not after:
        check_scope(run, scope.key)  # e.g. a terminate end event's scope completes when nothing is left
        return
    run.touch("elements", scope)
    if "activate" in after:  # an interrupting event subprocess
        activate(run, run.graph.elements[after["activate"]], scope.key, result=after.get("variables") or None)
    elif after.get("complete"):  # a multi-instance body whose completion condition held
        complete(run, scope)
    else:  # a modification emptied the scope
        end_if_empty(run, scope.key)


def interrupt_scope(run: InstanceRun, scope: ElementInstance, keep: int | None = None) -> bool:
    """Terminate every token inside a scope (active, in flight, or waiting at a join); the scope stays.

    False when some of them are still terminating: the caller leaves in `scope.data[AFTER]` what to do
    once they are gone (see `terminated`).
    """
    ended = True
    for child_key in sorted(run.active_children(scope.key)):
        if child_key != keep:
            ended = terminate(run, run.elements[child_key]) and ended
    if run.inflight.get(scope.key):
        run.agenda = deque(
            entry for entry in run.agenda if not (entry[0] == "activate" and entry[1][1] == scope.key)
        )
        run.inflight[scope.key] = 0
    if scope.data.get("tokens"):
        del scope.data["tokens"]
        run.touch("elements", scope)
    return ended


def wait_then(run: InstanceRun, scope: ElementInstance, after: dict[str, Any]) -> None:
    """What the scope does once its terminating children are gone (`interrupt_scope` returned False); `{}`:
    it completes then (a terminate end event). An interrupted scope starts no event subprocess meanwhile:
    their subscriptions and timers close now (Camunda unsubscribes them when the scope is interrupted); its
    boundary events stay. A modification's scope (`endIfEmpty`) may go on with other tokens: the modification
    closes them only if nothing else is left in it (`close_if_emptied`)."""
    scope.data[AFTER] = after
    run.touch("elements", scope)
    if not after.get("endIfEmpty"):
        _close_event_subprocess_waits(run, scope)


def close_if_emptied(run: InstanceRun, scope: ElementInstance) -> None:
    """A modification terminated tokens of the scope: if nothing but tokens on their way out is left, the scope
    ends after them, and its event subprocesses listen no more meanwhile."""
    if run.inflight.get(scope.key) or scope.data.get("tokens"):
        return
    if all(terminating(run.elements[k]) for k in run.active_children(scope.key)):
        _close_event_subprocess_waits(run, scope)


def _close_event_subprocess_waits(run: InstanceRun, scope: ElementInstance) -> None:
    element = run.element(scope.element_id)
    boundary = {b.id for b in run.graph.boundary_events(element.id)} if element.kind != "process" else set()
    run.close_waits(scope.key, only=lambda row: row.element_id not in boundary)


def interrupted(ei: ElementInstance) -> bool:
    """Terminating, or a scope waiting for its terminating children before it goes on: no modification or
    migration now, and no new event but those `accepts` lets in."""
    return terminating(ei) or AFTER in ei.data


def accepts(ei: ElementInstance, event_kind: str) -> bool:
    """Whether a catch event of this kind (boundaryEvent, or an event subprocess start) may trigger at the element
    instance: nothing at a terminating one; at a scope waiting for its terminating children (`AFTER`) a boundary
    event, which terminates the scope (Camunda accepts a boundary event of an interrupted scope), and an event
    subprocess only where a modification left other tokens running (an emptied scope's closed already)."""
    if terminating(ei):
        return False
    after = ei.data.get(AFTER)
    return after is None or event_kind == "boundaryEvent" or bool(after.get("endIfEmpty"))


def terminate_instance(run: InstanceRun) -> None:
    process_ei = run.elements.get(run.instance.key)
    if process_ei is not None and process_ei.state == ACTIVE and not terminate(run, process_ei):
        return  # it ends once its canceling task listeners are done (`terminated`)
    end_instance(run, ProcessInstance.State.TERMINATED)


def end_if_empty(run: InstanceRun, scope_key: int) -> None:
    """A flow scope whose last token was terminated (by a modification) is terminated too, up to the instance."""
    scope = run.elements.get(scope_key)
    while scope is not None and scope.state == ACTIVE:
        if run.active_children(scope.key) or run.inflight.get(scope.key) or scope.data.get("tokens"):
            return
        if scope.key == run.instance.key:
            terminate_instance(run)
            return
        parent_key = scope.flow_scope_key
        terminate(run, scope)
        scope = run.elements.get(parent_key) if parent_key is not None else None
