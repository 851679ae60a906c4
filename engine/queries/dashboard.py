"""What an operator sees first (the admin's index): running instances and open incidents per
process, open incidents by type, the oldest waiting jobs per type, in the given tenants (None:
every tenant), and the engine workers with their last heartbeat (engine-wide: the same query as
`manage.py flowsync_status` and the Inspector's Engine tab). Only open rows are counted, so the page
stays fast with millions of finished ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, QuerySet

from engine.models import Incident, Job, ProcessDefinition, ProcessInstance
from engine.queries import status


@dataclass
class Dashboard:
    definitions: list[dict[str, Any]] = field(default_factory=list)  # tenant, process id, running, open incidents
    incidents: list[dict[str, Any]] = field(default_factory=list)  # error type, count
    waiting_jobs: list[dict[str, Any]] = field(default_factory=list)  # type, count, oldest created_at, age
    workers: list[status.WorkerStatus] = field(default_factory=list)  # alive, lost, and stopped in the last hour


def _scoped(qs: QuerySet, tenant_ids: list[int] | None) -> QuerySet:
    return qs if tenant_ids is None else qs.filter(tenant_id__in=tenant_ids)


def dashboard(tenant_ids: list[int] | None, now: datetime, limit: int = 20) -> Dashboard:
    """Running instances and open incidents per process: counts over the open rows only, so the cost
    follows what is running, not the history (finished instances are the lists' business)."""
    board = Dashboard()
    definitions = dict(_scoped(ProcessDefinition.objects, tenant_ids)
                       .values_list("key", "bpmn_process_id"))
    tenants = dict(_scoped(ProcessDefinition.objects, tenant_ids).values_list("key", "tenant__tenant_id"))
    # (definition, state) index: an index-only count of the ACTIVE entries of these definitions.
    running = (ProcessInstance.objects.filter(definition_id__in=list(definitions), state=ProcessInstance.State.ACTIVE)
               .values("definition_id").annotate(n=Count("*")).order_by())
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for r in running:
        where = (tenants[r["definition_id"]], definitions[r["definition_id"]])
        entry = per.setdefault(where, {"tenant": where[0], "process_id": where[1], "active": 0, "incidents": 0})
        entry["active"] += r["n"]
    incidents = (_scoped(Incident.objects, tenant_ids).filter(state=Incident.State.ACTIVE)
                 .values("tenant__tenant_id", "bpmn_process_id").annotate(n=Count("key")).order_by())
    for r in incidents:
        where = (r["tenant__tenant_id"], r["bpmn_process_id"])
        per.setdefault(where, {"tenant": where[0], "process_id": where[1], "active": 0, "incidents": 0})
        per[where]["incidents"] = r["n"]
    board.definitions = sorted(per.values(), key=lambda e: (-e["active"], -e["incidents"], e["process_id"]))[:limit]
    board.incidents = list(_scoped(Incident.objects, tenant_ids).filter(state=Incident.State.ACTIVE)
                           .values("error_type").annotate(n=Count("key")).order_by("-n")[:limit])
    jobs = (_scoped(Job.objects, tenant_ids).filter(state=Job.State.ACTIVATABLE)
            .values("type").annotate(n=Count("key"), oldest=Min("created_at")).order_by("oldest")[:limit])
    board.waiting_jobs = [{**j, "age_seconds": int((now - j["oldest"]).total_seconds())} for j in jobs]
    board.workers = status.workers()
    return board
