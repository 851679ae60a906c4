from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, Model, OuterRef

from engine.audit import entry, record
from engine.definitions.cache import definition as cached_definition
from engine.errors import Conflict, InvalidInput, NotFound
from engine.keys import next_key
from engine.models import Command, ElementInstance, ProcessDefinition, ProcessInstance
from engine.store import sql
from engine.store.commands import submit
from engine.store.rows import new_row
from flowsync.models import Tenant

# The newest matching version: the row's key and its one mutable column. The rest comes from the
# definition cache (rows never change after deployment): the ORM's query cost ~1 ms a start.
FIND_LATEST = (
    "SELECT key, deactivated FROM engine_processdefinition WHERE tenant_id = %s AND bpmn_process_id = %s"
    " ORDER BY version DESC LIMIT 1"
)
FIND_VERSION = (
    "SELECT key, deactivated FROM engine_processdefinition WHERE tenant_id = %s AND bpmn_process_id = %s"
    " AND version = %s"
)


def deployed_definition(key: int, deactivated: bool) -> ProcessDefinition:
    """A deployed definition from the cache (definitions never change), with its current `deactivated`."""
    found = copy.copy(cached_definition(key))
    found.deactivated = deactivated
    return found


def find_definition(
    tenant: Tenant, process_id: str | None = None, version: int | None = None, key: int | None = None
) -> ProcessDefinition:
    if key is None and connection.vendor == "postgresql":
        exact = version is not None and version >= 0
        rows = sql.execute(FIND_VERSION if exact else FIND_LATEST,
                           (tenant.pk, process_id, version) if exact else (tenant.pk, process_id))
        if not rows:
            what = f"'{process_id}'" + (f" version {version}" if exact else "")
            raise NotFound(f"no process definition {what} is deployed")
        return deployed_definition(rows[0][0], rows[0][1])
    qs = ProcessDefinition.objects.filter(tenant=tenant).defer("source")
    if key is not None:
        found = qs.filter(key=key).first()
        if found is None:
            raise NotFound(f"no process definition with key {key}")
        return found
    qs = qs.filter(bpmn_process_id=process_id)
    if version is not None and version >= 0:
        qs = qs.filter(version=version)
    found = qs.order_by("-version").first()
    if found is None:
        what = f"'{process_id}'" + (f" version {version}" if version is not None and version >= 0 else "")
        raise NotFound(f"no process definition {what} is deployed")
    return found


def start_instance(
    tenant: Tenant,
    definition: ProcessDefinition,
    variables: dict[str, Any] | None,
    actor: str,
    now: datetime,
    business_key: str = "",
    start_element_id: str | None = None,
    with_rows: Callable[[int], list[Model]] | None = None,
) -> ProcessInstance:
    """Create the instance row at once (it is readable immediately); the engine starts it.

    `start_element_id` names the start event (message, signal, timer); default: the none start event.
    `with_rows(key)`: more new rows (a webhook's delivery record) written with the instance.
    On PostgreSQL the instance, its command, its audit entry and those rows are one statement: atomic
    by itself, committed when it returns unless the caller holds a transaction.
    """
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object")
    if definition.deactivated:
        raise Conflict(f"process definition '{definition.bpmn_process_id}' version {definition.version} is "
                       "deactivated for new instances")
    # Inside a caller's transaction a savepoint still lets the caller carry on after a refused insert.
    one_statement = connection.vendor == "postgresql" and not connection.in_atomic_block
    with contextlib.nullcontext() if one_statement else transaction.atomic():
        key = next_key()
        instance = new_row(
            ProcessInstance,
            key=key,
            tenant_id=tenant.pk,
            definition_id=definition.pk,
            business_key=business_key or "",
            state=ProcessInstance.State.ACTIVE,
            start_date=now,
            root_instance_key=key,
        )
        instance.tenant, instance.definition = tenant, definition
        audited = entry(tenant, actor, "instance.start", target_type="process-instance", target_key=key,
                        instance_key=key, now=now,
                        after={"definitionKey": str(definition.key), "bpmnProcessId": definition.bpmn_process_id,
                               "version": definition.version, "businessKey": business_key or "",
                               "variables": sorted(variables or {})})
        # The instance row, its start command and the rest in one statement (the ORM's create cost more
        # than the rest of a start; a statement per row, a round trip each).
        submit(
            tenant,
            key,
            Command.Kind.CREATE_INSTANCE,
            {"variables": variables or {}, **({"startElementId": start_element_id} if start_element_id else {})},
            actor,
            now,
            with_row=[instance, *([audited] if audited is not None else []), *(with_rows(key) if with_rows else [])],
        )
    return instance


def get_instance(tenant: Tenant, key: int) -> ProcessInstance:
    found = ProcessInstance.objects.filter(tenant=tenant, key=key).select_related("definition").first()
    if found is None:
        raise NotFound(f"no process instance with key {key}")
    return found


def cancel_instance(tenant: Tenant, key: int, actor: str, now: datetime) -> None:
    # One statement: the instance, and whether a cancellation already waits for canceling task listeners.
    waiting = ElementInstance.objects.filter(key=OuterRef("key"), data__has_key="terminating")
    with transaction.atomic():
        instance = ProcessInstance.objects.filter(tenant=tenant, key=key).annotate(canceling=Exists(waiting)).first()
        if instance is None:
            raise NotFound(f"no process instance with key {key}")
        if instance.state != ProcessInstance.State.ACTIVE:
            raise Conflict(f"process instance {key} is {instance.state}, not ACTIVE")
        if instance.parent_instance_key is not None:
            # Its call activity waits for it: canceling it alone would leave the parent stuck (Camunda refuses too).
            raise Conflict(f"process instance {key} was started by a call activity of process instance "
                           f"{instance.parent_instance_key}: cancel its root process instance "
                           f"{instance.root_instance_key} instead")
        if instance.canceling:  # type: ignore[attr-defined]
            raise Conflict(f"process instance {key} is being canceled already: it waits for the canceling "
                           "listeners of its user tasks")
        submit(tenant, key, Command.Kind.CANCEL_INSTANCE, {}, actor, now)
        record(tenant, actor, "instance.cancel", target_type="process-instance", target_key=key, instance_key=key,
               before={"state": instance.state}, now=now)
