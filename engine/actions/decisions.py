"""Evaluating a deployed decision on request (POST /v2/decision-definitions/evaluation): the
evaluation is recorded as decision instances, like a business rule task's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.definitions import decisions
from engine.errors import InvalidInput, NotFound
from engine.keys import next_key
from engine.models import DecisionDefinition, DecisionInstance
from flowsync.models import Tenant


def find_decision(tenant_ids: list[int], tenant: Tenant | None, decision_id: str | None,
                  key: int | None) -> DecisionDefinition:
    """By key (in any of the caller's tenants), or the latest version of a decision id in `tenant`."""
    qs = DecisionDefinition.objects.select_related("requirements").defer("requirements__source")
    if key is not None:
        found = qs.filter(key=key, tenant_id__in=tenant_ids).first()
        if found is None:
            raise NotFound(f"no decision definition with key {key}")
        return found
    assert tenant is not None and decision_id is not None
    found = qs.filter(tenant=tenant, decision_id=decision_id).order_by("-version").first()
    if found is None:
        raise NotFound(f"no decision definition with id '{decision_id}' in tenant '{tenant.tenant_id}'")
    return found


def evaluate(definition: DecisionDefinition, variables: dict[str, Any], now: datetime
             ) -> tuple[decisions.Evaluation, int, list[DecisionInstance]]:
    """Evaluate and record; a failed evaluation is recorded too, then refused as bad input (400)."""
    evaluation = decisions.evaluate_definition(definition, variables, now)
    key = next_key()
    rows = decisions.instance_rows(evaluation, key, now)
    with transaction.atomic():
        DecisionInstance.objects.bulk_create(rows)
    if evaluation.failure is not None:
        failed = evaluation.failed.decision_id if evaluation.failed else definition.decision_id
        raise InvalidInput(f"Expected to evaluate decision '{definition.decision_id}', but failed to evaluate "
                           f"decision '{failed}': {evaluation.failure}")
    return evaluation, key, rows
