"""Reads of deployed decisions and their evaluations, always within the caller's tenants."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max, OuterRef, QuerySet, Subquery

from engine.errors import NotFound
from engine.models import DecisionDefinition, DecisionInstance, DecisionRequirements
from engine.queries.common import get_or_404


def decision_definitions(tenant_ids: Iterable[int]) -> QuerySet[DecisionDefinition]:
    return (DecisionDefinition.objects.filter(tenant_id__in=list(tenant_ids))
            .select_related("requirements", "tenant").defer("requirements__source"))


def get_decision_definition(tenant_ids: Iterable[int], key: int) -> DecisionDefinition:
    return get_or_404(decision_definitions(tenant_ids), key, "decision definition")


def latest_decision_version() -> Subquery:
    """The latest version of the row's decision id in the row's tenant (for isLatestVersion)."""
    return Subquery(
        DecisionDefinition.objects.filter(tenant_id=OuterRef("tenant_id"), decision_id=OuterRef("decision_id"))
        .values("tenant_id", "decision_id").annotate(latest=Max("version")).values("latest")[:1]
    )


def decision_requirements(tenant_ids: Iterable[int], with_source: bool = False) -> QuerySet[DecisionRequirements]:
    qs = DecisionRequirements.objects.filter(tenant_id__in=list(tenant_ids)).select_related("tenant")
    return qs if with_source else qs.defer("source")


def get_decision_requirements(tenant_ids: Iterable[int], key: int, with_source: bool = False) -> DecisionRequirements:
    return get_or_404(decision_requirements(tenant_ids, with_source), key, "decision requirements")


def decision_instances(tenant_ids: Iterable[int]) -> QuerySet[DecisionInstance]:
    return (DecisionInstance.objects.filter(tenant_id__in=list(tenant_ids))
            .select_related("decision", "tenant"))


def get_decision_instance(tenant_ids: Iterable[int], instance_id: str) -> DecisionInstance:
    """By Camunda's decisionEvaluationInstanceKey, "{evaluation key}-{index}"."""
    evaluation, _, index = instance_id.partition("-")
    if not (evaluation.isdigit() and index.isdigit() and len(evaluation) <= 19 and len(index) <= 5):
        raise NotFound(f"no decision instance with key {instance_id}")
    found = decision_instances(tenant_ids).filter(evaluation_key=int(evaluation), index=int(index)).first()
    if found is None:
        raise NotFound(f"no decision instance with key {instance_id}")
    return found


def instance_evaluations(tenant_ids: Iterable[int], process_instance_key: int) -> list[DecisionInstance]:
    """The decisions a process instance's business rule tasks evaluated, in order (Inspector)."""
    return list(decision_instances(tenant_ids).filter(process_instance_key=process_instance_key)
                .order_by("evaluation_key", "index"))
