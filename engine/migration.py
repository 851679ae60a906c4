"""What a process instance migration may do (Camunda 8 semantics): one rule, read by the action
(before the write, answered as 4xx), by the Inspector's form (its dry run) and by the runtime
(again when the command applies: the instance may have moved on since).

A migration moves a running instance to another process definition of its tenant (usually a
newer version of the same process). Mapping instructions name, per source element id, the
target element id its active element instances become. Refused, like Zeebe refuses them:
- a mapping whose source or target element does not exist, or a source mapped twice (400);
- an active element with no mapping instruction (elements are never guessed) (409);
- a mapping that changes the element's kind (service task → user task), its event type
  (timer → message) or adds / removes multi-instance characteristics (409);
- a mapping that changes an active element's flow scope: its target must sit in the target of
  its source's scope (the process maps to the target process) (409);
- active multi-instance bodies and joining gateways (parallel / inclusive), whose bookkeeping
  names source flows (409).
Kept as they are: element instance keys, variables, jobs (type, retries, headers, worker and
lock), user tasks (assignee, candidates, dates), incidents, and the timers / subscriptions of
catch events that are mapped to a catch event of the same type. Other timers and subscriptions
of a migrated element instance (its boundary events, its event subprocess starts) are withdrawn
and the target's are opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.graph import Graph

MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"
JOINING_GATEWAYS = frozenset({"parallelGateway", "inclusiveGateway"})


@dataclass(frozen=True)
class Active:
    """One active element instance, as the rule sees it."""

    key: int
    element_id: str
    element_type: str
    scope_element_id: str | None  # None: the process instance itself


@dataclass(frozen=True)
class Refusal:
    detail: str
    state: bool  # True: the instance's state refuses it (409); False: the request is wrong (400)


@dataclass(frozen=True)
class Step:
    """What happens to one active element instance."""

    key: int
    source_element_id: str
    target_element_id: str


def mapping_refusal(source: Graph, target: Graph, instructions: Iterable[tuple[str, str]]) -> Refusal | None:
    """Why the mapping instructions themselves are wrong, or None."""
    seen: set[str] = set()
    for source_id, target_id in instructions:
        if source_id not in source.elements:
            return Refusal(f"mapping instructions name source element '{source_id}', which process "
                           f"'{source.process_id}' does not have", state=False)
        if target_id not in target.elements:
            return Refusal(f"mapping instructions name target element '{target_id}', which process "
                           f"'{target.process_id}' does not have", state=False)
        if source_id in seen:
            return Refusal(f"mapping instructions map source element '{source_id}' more than once", state=False)
        seen.add(source_id)
    return None


def target_id(source: Graph, target: Graph, mapping: dict[str, str], element_id: str) -> str | None:
    """Where an element (or the process) goes; None when nothing maps it."""
    if element_id == source.process_id:
        return target.process_id
    return mapping.get(element_id)


def _kind_refusal(source: Graph, target: Graph, source_id: str, target_id_: str) -> str | None:
    a, b = source.elements[source_id], target.elements[target_id_]
    if a.kind != b.kind:
        return f"the element type cannot be changed from {a.kind} ('{source_id}') to {b.kind} ('{target_id_}')"
    event_a, event_b = (a.props.get("event") or {}).get("type"), (b.props.get("event") or {}).get("type")
    if event_a != event_b:
        return (f"the event type cannot be changed from {event_a or 'none'} ('{source_id}') to "
                f"{event_b or 'none'} ('{target_id_}')")
    if bool(a.props.get("loop")) != bool(b.props.get("loop")):
        return (f"multi-instance characteristics cannot be added or removed ('{source_id}' → '{target_id_}')")
    return None


def plan(source: Graph, target: Graph, mapping: dict[str, str], active: Iterable[Active]) -> list[Step] | Refusal:
    """The steps of the migration of one instance (its active element instances), or why not."""
    steps: list[Step] = []
    for ei in sorted(active, key=lambda a: a.key):
        if ei.scope_element_id is None:
            steps.append(Step(ei.key, ei.element_id, target.process_id))
            continue
        if ei.element_type == MULTI_INSTANCE_BODY:
            return Refusal(f"active element '{ei.element_id}' is a multi-instance activity; migrating "
                           "multi-instance bodies is not supported", state=True)
        element = source.elements.get(ei.element_id)
        if element is None:
            return Refusal(f"active element '{ei.element_id}' is not part of the source process", state=True)
        if element.kind in JOINING_GATEWAYS:
            return Refusal(f"active element '{ei.element_id}' is a joining {element.kind}; it cannot be migrated "
                           "while it waits for its other branches", state=True)
        goal = mapping.get(ei.element_id)
        if goal is None:
            return Refusal(f"no mapping instruction for active element '{ei.element_id}'; elements cannot be "
                           "migrated without a mapping", state=True)
        why = _kind_refusal(source, target, ei.element_id, goal)
        if why:
            return Refusal(why, state=True)
        scope_goal = target_id(source, target, mapping, ei.scope_element_id)
        actual = target.elements[goal].parent or target.process_id
        if scope_goal != actual:
            return Refusal(f"the flow scope of active element '{ei.element_id}' cannot be changed: it is in "
                           f"'{ei.scope_element_id}' (mapped to '{scope_goal or 'nothing'}'), but target "
                           f"'{goal}' is in '{actual}'", state=True)
        steps.append(Step(ei.key, ei.element_id, goal))
    return steps


def prefilled(source: Graph, target: Graph) -> dict[str, str]:
    """The mapping a form offers first: every element whose id and kind the target also has."""
    out = {}
    for element_id, element in source.elements.items():
        other = target.elements.get(element_id)
        if other is not None and other.kind == element.kind:
            out[element_id] = element_id
    return out
