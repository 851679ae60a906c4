from __future__ import annotations

from engine.graph import Element, Flow
from engine.runtime.behaviors.base import Behavior
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import activate


def add_join_token(run: InstanceRun, scope_key: int, element: Element, flow: Flow) -> dict[str, int]:
    """Count a token arriving at a join; arrivals live on the flow scope's data (they are its tokens)."""
    scope = run.elements[scope_key]
    at = scope.data.setdefault("tokens", {}).setdefault(element.id, {})
    at[flow.id] = at.get(flow.id, 0) + 1
    run.touch("elements", scope)
    return at


def consume_join_tokens(run: InstanceRun, scope_key: int, element: Element) -> None:
    """Take one token off every incoming flow of the join that has one."""
    scope = run.elements[scope_key]
    tokens = scope.data["tokens"]
    at = tokens[element.id]
    for flow_id in list(at):
        at[flow_id] -= 1
        if not at[flow_id]:
            del at[flow_id]
    if not at:
        del tokens[element.id]
    if not tokens:
        del scope.data["tokens"]
    run.touch("elements", scope)


class ParallelGatewayBehavior(Behavior):
    """Fork: takes every outgoing flow. Join: activates once a token has arrived on each incoming flow.

    Arrivals are counted per incoming flow, so a second token on the same flow waits for the next round.
    """

    def arrive(self, run: InstanceRun, element: Element, scope_key: int, flow: Flow | None) -> None:
        if flow is None or len(element.incoming) <= 1:
            activate(run, element, scope_key, flow.id if flow else None)
            return
        at = add_join_token(run, scope_key, element, flow)
        if all(at.get(f) for f in element.incoming):
            consume_join_tokens(run, scope_key, element)
            activate(run, element, scope_key, flow.id)
