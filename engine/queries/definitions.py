from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max, OuterRef, QuerySet, Subquery

from engine.definitions.cache import definition, graph_of
from engine.models import ProcessDefinition
from engine.queries.common import get_or_404


def definitions(tenant_ids: Iterable[int], with_source: bool = False) -> QuerySet[ProcessDefinition]:
    qs = ProcessDefinition.objects.filter(tenant_id__in=list(tenant_ids))
    return qs if with_source else qs.defer("source", "graph")


def get_definition(tenant_ids: Iterable[int], key: int, with_source: bool = False) -> ProcessDefinition:
    return get_or_404(definitions(tenant_ids, with_source), key, "process definition")


def latest_version_subquery() -> Subquery:
    """The latest version of the row's process id in the row's tenant (for isLatestVersion)."""
    return Subquery(
        ProcessDefinition.objects.filter(tenant_id=OuterRef("tenant_id"), bpmn_process_id=OuterRef("bpmn_process_id"))
        .values("tenant_id", "bpmn_process_id")
        .annotate(latest=Max("version"))
        .values("latest")[:1]
    )


def graph(definition_key: int):  # type: ignore[no-untyped-def]
    """The compiled graph of a definition, from the in-process caches."""
    return graph_of(definition(definition_key))


def has_start_form(definition_key: int) -> bool:
    return any(
        e.kind == "startEvent" and e.parent is None and (e.props.get("formId") or e.props.get("formKey"))
        for e in graph(definition_key).elements.values()
    )


def element_names(definition_keys: Iterable[int]) -> dict[tuple[int, str], str]:
    """(definition key, element id) → element name, from the compiled graphs (cached)."""
    names: dict[tuple[int, str], str] = {}
    for key in set(definition_keys):
        g = graph(key)
        names[(key, g.process_id)] = g.name or ""
        for element in g.elements.values():
            names[(key, element.id)] = element.name or ""
    return names


def task_listens(definition_key: int, element_id: str, event: str) -> bool:
    """Whether a user task element has task listeners on `event` (assigning, updating, …), from the cached graph:
    the actions that start a task's transition wait for them instead of changing the row at once."""
    element = graph(definition_key).elements.get(element_id)
    return element is not None and bool((element.props.get("taskListeners") or {}).get(event))
