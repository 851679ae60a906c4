"""The Inspector's overviews: incidents grouped with counts, instance counts per definition version drawn
as bars, per-element counts of one version (the diagram's heatmap), and a person's saved filters.

Every function takes the caller's tenant pks and never returns another tenant's row. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Exists, Max, OuterRef

from engine.definitions.diagram import diagram_for
from engine.flows.diagram import to_bpmn
from engine.models import DefinitionCounts, ElementInstance, Incident, ProcessDefinition, ProcessInstance, SavedFilter
from engine.queries.definitions import element_names, get_definition, graph
from engine.queries.inspector import DefinitionVersion, incident_list

# What the incidents page can group by: error type + message, element, process definition (version).
INCIDENT_GROUPS = {"type": "Error type and message", "element": "Element", "definition": "Process version"}
GROUP_LIMIT = 200


@dataclass
class IncidentGroup:
    label: str  # what the group is, for people
    detail: str  # the second line (message, process id)
    count: int
    newest: dt.datetime
    instances_query: str  # the instance list's query string for the same instances ("" when none fits)


def incident_groups(tenant_ids: list[int], by: str, state: str = "ACTIVE", process: str = "") -> list[IncidentGroup]:
    """Incidents counted per group, the group with the newest incident first (one query, at most 200 groups).

    Only active incidents link to instances: the instance filters look at the incidents an instance has now.
    """
    qs = incident_list(tenant_ids, state, process).order_by()
    fields = {"type": ("error_type", "error_message"), "element": ("process_definition_key", "element_id"),
              "definition": ("process_definition_key",)}[by]
    rows = list(qs.values(*fields).annotate(n=Count("key"), newest=Max("created_at")).order_by("-newest")
                [:GROUP_LIMIT])
    definitions = {d.key: d for d in ProcessDefinition.objects.filter(
        key__in={r["process_definition_key"] for r in rows if "process_definition_key" in r}).only(
        "key", "bpmn_process_id", "version", "name")}
    names = element_names(definitions) if by == "element" else {}
    linkable = state == "ACTIVE"
    groups = []
    for r in rows:
        query: dict[str, Any] = {"incident": "yes"}
        if by == "type":
            label, detail = r["error_type"], r["error_message"]
            query.update(incident_type=r["error_type"], incident_message=r["error_message"][:1000])
        else:
            d = definitions.get(r["process_definition_key"])
            pid, version = (d.bpmn_process_id, d.version) if d else ("?", 0)
            query.update(process=pid, version=version)
            if by == "element":
                name = names.get((r["process_definition_key"], r["element_id"])) or r["element_id"]
                label, detail = name, f"{r['element_id']} · {pid} v{version}"
                query["incident_element"] = r["element_id"]
            else:
                label, detail = (d.name or pid) if d else pid, f"{pid} v{version}"
        if process:
            query["process"] = process
        groups.append(IncidentGroup(label, detail, r["n"], r["newest"], urlencode(query) if linkable else ""))
    return groups


@dataclass
class Bar:
    """One stacked bar of the versions chart: segments (state, count, x, width) in SVG units of 0..100."""

    version: DefinitionVersion
    segments: list[tuple[str, int, float, float]]


def version_bars(versions: list[DefinitionVersion]) -> list[Bar]:
    """Running (without incident) / with incident / completed / terminated per version, scaled to the
    largest version so that bars compare across versions (drawn as SVG by the template: no script)."""
    largest = max((v.running + v.completed + v.terminated for v in versions), default=0) or 1
    bars = []
    for v in versions:
        x, segments = 0.0, []
        for state, n in (("running", v.running - v.with_incident), ("incident", v.with_incident),
                         ("completed", v.completed), ("terminated", v.terminated)):
            width = 100.0 * n / largest
            if n:
                segments.append((state, n, round(x, 3), round(width, 3)))
            x += width
        bars.append(Bar(v, segments))
    return bars


@dataclass(frozen=True)
class Durations:
    """A version's start-to-end times (seconds) over its instances completed in the day before counted_at."""

    definition: ProcessDefinition
    p50: float
    p99: float
    count: int
    counted_at: dt.datetime


DURATIONS_SHOWN = 30


def definition_durations(tenant_ids: list[int], limit: int = DURATIONS_SHOWN) -> list[Durations]:
    """The versions that completed instances in the counted day, busiest first (at most `limit`), from the
    periodic count (engine/store/definition_counts.py): one indexed read of small rows, nothing per instance."""
    rows = (DefinitionCounts.objects.filter(definition__tenant_id__in=tenant_ids, durations__gt=0,
                                            duration_p50__isnull=False)
            .select_related("definition").only(
                "duration_p50", "duration_p99", "durations", "counted_at", "definition__key",
                "definition__bpmn_process_id", "definition__version", "definition__name")
            .order_by("-durations", "definition__bpmn_process_id", "-definition__version")[:limit])
    return [Durations(r.definition, r.duration_p50 or 0.0, r.duration_p99 or 0.0, r.durations, r.counted_at)
            for r in rows]


def definition_heatmap(tenant_ids: list[int], key: int) -> dict[str, Any]:
    """A version's diagram with, per element, its active tokens and active incidents over all its instances.

    The live page asks again every few seconds, so the token count reads indexes only, never a row:
    tokens at an element id that no other running definition of the tenant has are all this version's, and
    are counted from ei_active_element_idx (tenant, element, instance) alone; tokens at an id another
    running definition shares (other versions of the process, a common id like "Start") are matched to this
    version's running instance keys (pi_definition_end_idx: definition, state, …, key) hashed. Incidents
    come from the incident table. (bench/inspector_pages.py: the heatmap with 70,000 running instances.)
    A version that starts running between the two reads may be counted here for one refresh.
    """
    definition = get_definition(tenant_ids, key, with_source=True)
    elements = set(graph(key).elements)  # the process itself is not among them: its "token" is no count
    shared = elements & _ids_of_other_running_definitions(tenant_ids, key)
    tokens = ElementInstance.objects.filter(tenant_id__in=tenant_ids, state=ElementInstance.State.ACTIVE)
    running = ProcessInstance.objects.filter(definition_id=key, state=ProcessInstance.State.ACTIVE).values("key")
    active: Counter[str] = Counter()
    # count(*), not count(key): the key is not in ei_active_element_idx, and reading it would visit each row.
    for ids, narrowed in ((elements - shared, tokens), (shared, tokens.filter(process_instance_id__in=running))):
        if ids:
            active.update(dict(narrowed.filter(element_id__in=sorted(ids)).order_by().values_list("element_id")
                               .annotate(n=Count("*"))))
    incidents: Counter[str] = Counter(dict(
        Incident.objects.filter(process_definition_key=key, state=Incident.State.ACTIVE, tenant_id__in=tenant_ids)
        .order_by().values_list("element_id").annotate(n=Count("key"))
    ))
    source = definition.source
    if definition.kind == ProcessDefinition.Kind.DAG:
        source = to_bpmn(graph(key))
    drawn = diagram_for(key, source) if source else None
    return {
        "definitionKey": str(key),
        "xml": drawn.xml if drawn else None,
        "laidOut": bool(drawn and drawn.laid_out),
        "layoutProblem": drawn.problem if drawn else "",
        "elements": {element_id: {"active": active[element_id], "incidents": incidents[element_id], "completed": 0}
                     for element_id in sorted(set(active) | set(incidents))},
    }


def _ids_of_other_running_definitions(tenant_ids: list[int], key: int) -> set[str]:
    """Element ids of the tenant's other definitions that have running instances (one probe of
    pi_definition_end_idx per definition; their graphs come from the in-process cache)."""
    others = (ProcessDefinition.objects.filter(tenant_id__in=tenant_ids).exclude(key=key)
              .filter(Exists(ProcessInstance.objects.filter(definition_id=OuterRef("key"),
                                                            state=ProcessInstance.State.ACTIVE)))
              .values_list("key", flat=True))
    ids: set[str] = set()
    for other in others:
        ids.update(graph(other).elements)
    return ids


def saved_filters(tenant_id: int, user_id: int) -> list[SavedFilter]:
    return list(SavedFilter.objects.filter(tenant_id=tenant_id, user_id=user_id).order_by("name"))
