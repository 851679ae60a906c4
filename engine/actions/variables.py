"""Variables set from outside the engine (API `PUT /v2/element-instances/{key}/variables`, operators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from engine.audit import record
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Command, ElementInstance
from engine.store.commands import submit


def set_variables(
    tenant_ids: list[int], element_instance_key: int, variables: dict[str, Any], local: bool, actor: str,
    now: datetime,
) -> None:
    """Set variables on an active element instance's scope: `local` keeps them on that scope, otherwise each
    goes to the nearest enclosing scope that already has it, else to the process instance (Camunda's rule)."""
    if not isinstance(variables, dict) or not variables:
        raise InvalidInput("variables must be a non-empty JSON object")
    with transaction.atomic():
        ei = ElementInstance.objects.filter(key=element_instance_key, tenant_id__in=tenant_ids).first()
        if ei is None:
            raise NotFound(f"no element instance with key {element_instance_key}")
        if ei.state != ElementInstance.State.ACTIVE:
            raise Conflict(f"element instance {element_instance_key} is {ei.state}; only an active scope takes "
                           "variables")
        submit(ei.tenant_id, ei.process_instance_id, Command.Kind.SET_VARIABLES,
               {"scopeKey": str(ei.key), "variables": variables, "local": bool(local)}, actor, now)
        # Values may be personal data: the trail names what changed, the timeline holds the values.
        record(ei.tenant_id, actor, "variables.set", target_type="element-instance", target_key=ei.key,
               instance_key=ei.process_instance_id, after={"names": sorted(variables), "local": bool(local)}, now=now)
