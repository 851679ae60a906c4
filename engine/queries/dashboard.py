"""What an operator sees first (the admin's index): counts by state per definition, open incidents
by type and the oldest waiting jobs per type, in the given tenants (None: every tenant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Min, QuerySet

from engine.models import Incident, Job, ProcessInstance


@dataclass
class Dashboard:
    definitions: list[dict[str, Any]] = field(default_factory=list)  # process id, tenant, counts by state
    incidents: list[dict[str, Any]] = field(default_factory=list)  # error type, count
    waiting_jobs: list[dict[str, Any]] = field(default_factory=list)  # type, count, oldest created_at, age


def _scoped(qs: QuerySet, tenant_ids: list[int] | None) -> QuerySet:
    return qs if tenant_ids is None else qs.filter(tenant_id__in=tenant_ids)


def dashboard(tenant_ids: list[int] | None, now: datetime, limit: int = 20) -> Dashboard:
    board = Dashboard()
    states = list(ProcessInstance.State.values)
    rows = (_scoped(ProcessInstance.objects, tenant_ids)
            .values("definition__bpmn_process_id", "tenant__tenant_id", "state").annotate(n=Count("key")))
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        entry = per.setdefault((r["tenant__tenant_id"], r["definition__bpmn_process_id"]),
                               {"tenant": r["tenant__tenant_id"], "process_id": r["definition__bpmn_process_id"],
                                "counts": dict.fromkeys(states, 0), "incidents": 0})
        entry["counts"][r["state"]] = r["n"]
    incidents = (_scoped(Incident.objects, tenant_ids).filter(state=Incident.State.ACTIVE)
                 .values("tenant__tenant_id", "bpmn_process_id").annotate(n=Count("key")))
    for r in incidents:
        if (r["tenant__tenant_id"], r["bpmn_process_id"]) in per:
            per[(r["tenant__tenant_id"], r["bpmn_process_id"])]["incidents"] = r["n"]
    board.definitions = sorted(per.values(), key=lambda e: (-e["counts"].get("ACTIVE", 0), e["process_id"]))[:limit]
    board.incidents = list(_scoped(Incident.objects, tenant_ids).filter(state=Incident.State.ACTIVE)
                           .values("error_type").annotate(n=Count("key")).order_by("-n")[:limit])
    jobs = (_scoped(Job.objects, tenant_ids).filter(state=Job.State.ACTIVATABLE)
            .values("type").annotate(n=Count("key"), oldest=Min("created_at")).order_by("oldest")[:limit])
    board.waiting_jobs = [{**j, "age_seconds": int((now - j["oldest"]).total_seconds())} for j in jobs]
    return board
