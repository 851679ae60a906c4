"""The Inspector's "understand" reads: one element of one instance (its tokens, incidents, variables in
scope, jobs, tasks, timers, subscriptions and timeline) and where the instance sits in its call tree.

Every function takes the caller's tenant pks and never returns another tenant's row. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.connectors.policy import masked_request_variables
from engine.connectors.registry import connector_for
from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.errors import NotFound
from engine.models import (
    ElementInstance,
    Incident,
    Job,
    MessageSubscription,
    ProcessInstance,
    SignalSubscription,
    Timer,
    UserTask,
    Variable,
)
from engine.queries.inspector import TERMINATING, TimelineEntry, get_instance, timeline
from engine.queries.instances import instances
from engine.visibility import scope_chain, visible_from_rows


@dataclass
class TokenView:
    """One element instance of the chosen element and the variables it sees (engine/visibility.py)."""

    element: ElementInstance
    scope_path: list[str]  # scope element ids from the process down to this token's own scope
    visible: dict[str, Any] = field(default_factory=dict)


@dataclass
class ElementPanel:
    instance: ProcessInstance
    element_id: str
    name: str
    kind: str
    tokens: list[TokenView]
    incidents: list[Incident]
    jobs: list[Job]
    user_tasks: list[UserTask]
    timers: list[Timer]
    message_subscriptions: list[MessageSubscription]
    signal_subscriptions: list[SignalSubscription]
    timeline: list[TimelineEntry]

    @property
    def active_tokens(self) -> int:
        return sum(t.element.state == ElementInstance.State.ACTIVE for t in self.tokens)


def element_panel(tenant_ids: list[int], key: int, element_id: str) -> ElementPanel:
    """Everything about `element_id` in instance `key`; NotFound when the definition has no such element."""
    instance = get_instance(tenant_ids, key)
    graph = graph_of(cached_definition(instance.definition_id))
    element = graph.elements.get(element_id)
    if element is None:
        raise NotFound(f"process {instance.definition.bpmn_process_id} has no element '{element_id}'")
    scopes = {e.key: e for e in ElementInstance.objects.filter(process_instance_id=key, tenant_id__in=tenant_ids)
              .defer("data").annotate(terminating=TERMINATING).order_by("key")}
    mine = [e for e in scopes.values() if e.element_id == element_id and e.key != key]

    def parent_of(scope_key: int) -> int | None:
        row = scopes.get(scope_key)
        return row.flow_scope_key if row is not None else None

    chains = {e.key: scope_chain(e.key, parent_of) for e in mine}
    needed = {k for chain in chains.values() for k in chain}
    rows = list(Variable.objects.filter(process_instance_id=key, tenant_id__in=tenant_ids, scope_key__in=needed)
                .values_list("scope_key", "name", "value")) if needed else []
    # An HTTP connector's inputs are the request it sends: its credentials are not shown (step logs neither).
    connector = connector_for(str(element.props.get("jobType") or ""))
    sends_requests = connector is not None and connector.uses_secrets
    tokens = []
    for e in sorted(mine, key=lambda r: (r.state != ElementInstance.State.ACTIVE, -r.key)):
        chain = chains[e.key]
        path = [scopes[k].element_id if k != key else instance.definition.bpmn_process_id
                for k in reversed(chain) if k in scopes]
        visible = visible_from_rows(chain, [r for r in rows if r[0] in chain])
        tokens.append(TokenView(e, path, masked_request_variables(visible) if sends_requests else visible))
    keyed = {"process_instance_key": key, "tenant_id__in": tenant_ids, "element_id": element_id}
    return ElementPanel(
        instance=instance,
        element_id=element_id,
        name=element.name or element_id,
        kind=element.kind,
        tokens=tokens,
        incidents=list(Incident.objects.filter(**keyed).order_by("-key")),
        jobs=list(Job.objects.filter(**keyed).defer("attempts").order_by("-key")),
        user_tasks=list(UserTask.objects.filter(**keyed).order_by("-key")),
        timers=list(Timer.objects.filter(**keyed).order_by("-key")),
        message_subscriptions=list(MessageSubscription.objects.filter(**keyed).order_by("-key")),
        signal_subscriptions=list(SignalSubscription.objects.filter(**keyed).order_by("-key")),
        timeline=[t for t in timeline(tenant_ids, key) if t.record.get("elementId") == element_id],
    )


def ancestors(tenant_ids: list[int], instance: ProcessInstance, limit: int = 50) -> list[ProcessInstance]:
    """The call-activity chain above `instance`, root first: one primary-key read per level (trees are
    shallow; a wide tree with thousands of children costs no more than a narrow one)."""
    chain: list[ProcessInstance] = []
    parent_key = instance.parent_instance_key
    while parent_key is not None and len(chain) < limit:
        parent = instances(tenant_ids).filter(key=parent_key).first()
        if parent is None:
            break
        chain.append(parent)
        parent_key = parent.parent_instance_key
    chain.reverse()
    return chain
