from __future__ import annotations

from engine.graph import Element, Flow
from engine.models import ElementInstance
from engine.runtime.behaviors.base import Behavior
from engine.runtime.behaviors.gateway_leave import leave
from engine.runtime.behaviors.parallel_gateway import add_join_token, consume_join_tokens
from engine.runtime.state import InstanceRun
from engine.runtime.tokens import activate, check_scope

# How a JSON flow's join decides from what its upstream nodes did (engine/flows/compile.py writes
# props "joinRule" and "upstream" {flowId: [node, "ok" | "failed"]}); upstream nodes from which
# no token arrived were skipped. Each rule gets the sets of succeeded, failed and skipped nodes.
JOIN_RULES = {
    "all_success": lambda ok, failed, skipped: not failed and not skipped,
    "one_success": lambda ok, failed, skipped: bool(ok),
    "all_done": lambda ok, failed, skipped: True,
    "none_failed": lambda ok, failed, skipped: not failed,
}


class InclusiveGatewayBehavior(Behavior):
    """Fork: takes every outgoing flow whose condition is true (the default flow only if none is).

    Join: waits only for tokens that can still arrive. A token that arrived is counted on
    the flow scope; the join fires when no other token of the same scope (active, in flight
    or waiting at another join) can still reach the gateway. `fire_ready_joins` runs at every
    scope check, i.e. after every token move in the scope.
    """

    def arrive(self, run: InstanceRun, element: Element, scope_key: int, flow: Flow | None) -> None:
        if flow is None or len(element.incoming) <= 1:
            activate(run, element, scope_key, flow.id if flow else None)
            return
        add_join_token(run, scope_key, element, flow)  # the scope check queued after this arrival decides

    def outgoing(self, run: InstanceRun, ei: ElementInstance, element: Element) -> list[Flow]:
        return leave(run, ei, element, first_only=False)


def fire_ready_joins(run: InstanceRun, scope: ElementInstance) -> None:
    """Activate every inclusive join of the scope that no other token can still reach."""
    tokens = scope.data.get("tokens") or {}
    graph = run.graph
    for gateway_id in list(tokens):
        gateway = graph.elements[gateway_id]
        if gateway.kind != "inclusiveGateway" or gateway_id not in (scope.data.get("tokens") or {}):
            continue
        positions = [run.elements[k].element_id for k in run.active_children(scope.key)]
        if run.inflight.get(scope.key):
            positions += [entry[1][0].id for entry in run.agenda
                          if entry[0] == "activate" and entry[1][1] == scope.key]
        positions += [other for other in (scope.data.get("tokens") or {}) if other != gateway_id]
        if any(gateway_id in graph.successors(p) for p in positions):
            continue
        arrived = set(tokens.get(gateway_id) or ())
        consume_join_tokens(run, scope.key, gateway)
        if "joinRule" in gateway.props and not _join_runs(run, gateway, arrived):
            # The node behind this join is skipped: no token goes on, so what follows sees it skipped too.
            check_scope(run, scope.key)  # joins waiting on this one may be ready now
            continue
        activate(run, gateway, scope.key)


def _join_runs(run: InstanceRun, gateway: Element, arrived: set[str]) -> bool:
    upstream: dict[str, list[str]] = gateway.props["upstream"]
    status: dict[str, str] = {node: "skipped" for node, _ in upstream.values()}
    for flow_id in arrived:
        node, outcome = upstream[flow_id]
        status[node] = "failed" if outcome == "failed" or status[node] == "failed" else "ok"
    ok = {n for n, s in status.items() if s == "ok"}
    failed = {n for n, s in status.items() if s == "failed"}
    skipped = {n for n, s in status.items() if s == "skipped"}
    runs = JOIN_RULES[gateway.props["joinRule"]](ok, failed, skipped)
    if not runs:
        run.record("FLOW_NODE_SKIPPED", elementId=gateway.props.get("node", gateway.id),
                   joinRule=gateway.props["joinRule"], succeeded=sorted(ok), failed=sorted(failed),
                   skipped=sorted(skipped))
    return runs
