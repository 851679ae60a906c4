"""Operator operations composed from engine actions (the only code that changes engine state).

Views and the management command call these; each runs in one transaction and raises the
action's errors (InvalidInput, NotFound, Conflict) for the caller to show.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import transaction

from engine.actions.modification import Activate, Modification, Move, modify_instance
from engine.actions.variables import set_variables
from engine.errors import Conflict, InvalidInput
from engine.models import ProcessInstance
from engine.queries.common import get_or_404


def parse_json_value(raw: str) -> Any:
    """A variable value typed by an operator: JSON (strings in double quotes)."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not valid JSON ({exc}); write strings in double quotes, e.g. \"text\"") from exc


def set_process_variable(
    tenant_ids: list[int], instance_key: int, name: str, raw_value: str, actor: str, now: datetime
) -> None:
    """Set one variable on the process instance's own scope (a SET_VARIABLES command, local to that scope)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a variable needs a name")
    if len(name) > 255:
        raise InvalidInput("variable names are at most 255 characters")
    value = parse_json_value(raw_value)
    with transaction.atomic():
        instance = get_or_404(
            ProcessInstance.objects.select_for_update().filter(tenant_id__in=tenant_ids), instance_key,
            "process instance",
        )
        if instance.state != ProcessInstance.State.ACTIVE:
            raise Conflict(f"process instance {instance_key} is {instance.state}; only an active instance "
                           "takes variables")
        # The engine action (the process instance's root scope): the same command and audit entry as the API.
        set_variables([instance.tenant_id], instance.key, {name: value}, True, actor, now)


def modify(tenant_ids: list[int], instance_key: int, operation: str, source: int | None, target: str,
           variables: dict[str, Any], actor: str, now: datetime) -> None:
    """One Inspector repair as a modification: move a token, activate an element, or terminate a token.
    Variables go to the activated element's own scope."""
    local = [(target, variables)] if variables else []
    if operation == "move" and source is not None:
        change = Modification(moves=[Move(target, source_key=source, ancestor="auto", variables=local)])
    elif operation == "activate":
        change = Modification(activate=[Activate(target, variables=local)])
    elif operation == "terminate" and source is not None:
        change = Modification(terminate_keys=[source])
    else:
        raise InvalidInput("choose what to change")
    modify_instance(tenant_ids, instance_key, change, actor, now)
