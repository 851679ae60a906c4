from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from engine.models import ElementInstance, ProcessInstance, Variable
from engine.queries.common import get_or_404

ENDED = (ProcessInstance.State.COMPLETED, ProcessInstance.State.TERMINATED)


def instances(tenant_ids: Iterable[int]) -> QuerySet[ProcessInstance]:
    return (
        ProcessInstance.objects.filter(tenant_id__in=list(tenant_ids))
        .select_related("definition")
        .defer("definition__source", "definition__graph")
    )


def get_instance(tenant_ids: Iterable[int], key: int) -> ProcessInstance:
    return get_or_404(instances(tenant_ids), key, "process instance")


def instance_state(key: int) -> str | None:
    return ProcessInstance.objects.filter(key=key).values_list("state", flat=True).first()


def instance_variables(instance_key: int, names: list[str] | None = None) -> dict[str, Any]:
    """The variables of the process instance's own scope (what a completed instance returns)."""
    qs = Variable.objects.filter(process_instance_id=instance_key, scope_key=instance_key)
    if names:
        qs = qs.filter(name__in=names)
    return dict(qs.values_list("name", "value"))


def element_instances(tenant_ids: Iterable[int]) -> QuerySet[ElementInstance]:
    return (
        ElementInstance.objects.filter(tenant_id__in=list(tenant_ids))
        .select_related("process_instance__definition")
        .defer("data", "process_instance__definition__source", "process_instance__definition__graph")
    )


def get_element_instance(tenant_ids: Iterable[int], key: int) -> ElementInstance:
    return get_or_404(element_instances(tenant_ids), key, "element instance")


def variables(tenant_ids: Iterable[int]) -> QuerySet[Variable]:
    return Variable.objects.filter(tenant_id__in=list(tenant_ids)).select_related("process_instance").only(
        "key", "tenant_id", "process_instance_id", "scope_key", "name", "value", "process_instance__root_instance_key"
    )


def get_variable(tenant_ids: Iterable[int], key: int) -> Variable:
    return get_or_404(variables(tenant_ids), key, "variable")
