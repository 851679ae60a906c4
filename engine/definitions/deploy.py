"""Deploying resources: parse and validate all of them, then store, in one transaction."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from engine.bpmn import DefinitionError, Problem, parse_bpmn
from engine.definitions.forms import compile_forms, is_form_resource, store_forms
from engine.keys import next_key
from engine.model import Graph
from engine.models import Deployment, ProcessDefinition
from flowsync.models import Tenant


@dataclass(frozen=True)
class Resource:
    name: str
    content: bytes


def _compile(resource: Resource) -> list[Graph]:
    if resource.name.lower().endswith((".bpmn", ".bpmn20.xml", ".xml")):
        return parse_bpmn(resource.content, resource.name)
    raise DefinitionError(
        resource.name, [Problem("unsupported resource type; expected a .bpmn, .form or .schema.json file")]
    )


def deploy(tenant: Tenant, resources: list[Resource], now: datetime) -> tuple[Deployment, list[ProcessDefinition]]:
    """Deploy every resource or none. Identical content of the latest version creates no new version."""
    if not resources:
        raise DefinitionError("(request)", [Problem("no resources to deploy")])
    # Form resources (.form, .schema.json) are checked and stored beside the processes.
    forms = compile_forms([res for res in resources if is_form_resource(res.name)])
    compiled = [(res, graph) for res in resources if not is_form_resource(res.name) for graph in _compile(res)]
    seen: set[str] = set()
    for res, graph in compiled:
        if graph.process_id in seen:
            raise DefinitionError(
                res.name, [Problem(f"process id '{graph.process_id}' is deployed twice in one request")]
            )
        seen.add(graph.process_id)

    with transaction.atomic():
        deployment = Deployment.objects.create(key=next_key(), tenant=tenant, created_at=now)
        definitions = []
        for res, graph in compiled:
            definitions.append(_store(tenant, deployment, res, graph, now))
        store_forms(tenant, deployment, forms, now)
    return deployment, definitions


def _store(tenant: Tenant, deployment: Deployment, res: Resource, graph: Graph, now: datetime) -> ProcessDefinition:
    source = res.content.decode("utf-8", errors="replace")
    checksum = hashlib.sha256(res.content + graph.process_id.encode()).hexdigest()
    if connection.vendor == "postgresql":
        # Serialize concurrent deployments of one process id so versions stay gapless and unique.
        lock_id = zlib.crc32(f"{tenant.pk}:{graph.process_id}".encode())
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
    latest = (
        ProcessDefinition.objects.filter(tenant=tenant, bpmn_process_id=graph.process_id)
        .order_by("-version")
        .only("key", "version", "checksum")
        .first()
    )
    if latest is not None and latest.checksum == checksum:
        return ProcessDefinition.objects.get(key=latest.key)
    return ProcessDefinition.objects.create(
        key=next_key(),
        tenant=tenant,
        deployment=deployment,
        kind=ProcessDefinition.Kind.BPMN,
        bpmn_process_id=graph.process_id,
        name=graph.name,
        version=(latest.version + 1) if latest else 1,
        version_tag=graph.version_tag,
        resource_name=res.name,
        checksum=checksum,
        source=source,
        graph=graph.to_json(),
        created_at=now,
    )
