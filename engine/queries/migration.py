"""What a migration form offers: the versions an instance can move to, and per source element the
target elements of the same kind (pre-filled where ids match). The rule itself is engine/migration.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.graph import Graph
from engine.migration import prefilled
from engine.models import ElementInstance, ProcessDefinition, ProcessInstance

# Elements a token can rest in (the ones a mapping instruction is about).
MAPPABLE = frozenset({
    "serviceTask", "sendTask", "businessRuleTask", "scriptTask", "userTask", "receiveTask", "manualTask", "task",
    "subProcess", "callActivity", "intermediateCatchEvent", "boundaryEvent", "eventBasedGateway", "eventSubProcess",
})


@dataclass(frozen=True)
class MappingRow:
    source_id: str
    source_name: str
    kind: str
    active: int  # active element instances of it among the instances concerned
    targets: list[tuple[str, str]]  # (id, name) of the target's elements of the same kind
    prefill: str  # "" when no target element has the same id and kind


def target_versions(tenant_id: int, source: ProcessDefinition) -> list[ProcessDefinition]:
    """The other versions of the same process in the tenant, newest first."""
    return list(ProcessDefinition.objects.filter(tenant_id=tenant_id, bpmn_process_id=source.bpmn_process_id)
                .exclude(key=source.key).order_by("-version"))


def graphs(source_key: int, target_key: int) -> tuple[Graph, Graph]:
    return graph_of(cached_definition(source_key)), graph_of(cached_definition(target_key))


def mapping_rows(source: Graph, target: Graph, instances: QuerySet[ProcessInstance] | list[int]) -> list[MappingRow]:
    """One row per mappable source element; those with active instances first (they must be mapped)."""
    active = ElementInstance.objects.filter(process_instance_id__in=instances, state=ElementInstance.State.ACTIVE)
    counts = dict(active.exclude(element_type="PROCESS").order_by().values("element_id")
                  .annotate(n=Count("key")).values_list("element_id", "n"))
    fill = prefilled(source, target)
    rows = []
    for element in source.elements.values():
        if element.kind not in MAPPABLE and element.id not in counts:
            continue
        options = [(e.id, e.name or e.id) for e in target.elements.values() if e.kind == element.kind]
        rows.append(MappingRow(element.id, element.name or element.id, element.kind, counts.get(element.id, 0),
                               options, fill.get(element.id, "")))
    rows.sort(key=lambda r: (r.active == 0, r.source_name.lower()))
    return rows


def element_labels(definition: ProcessDefinition) -> dict[str, str]:
    """Element id → its name (or id) in a definition, for showing a plan."""
    graph = graph_of(cached_definition(definition.key))
    return {e.id: e.name or e.id for e in graph.elements.values()} | {graph.process_id: graph.name or graph.process_id}
