"""Read-side queries for the Inspector: instances (filtered, counted, keyset-paged), one instance with
everything an operator needs to repair it, its diagram overlays and timeline, and incidents.

Every function takes the caller's tenant pks and never returns another tenant's row. Nothing here writes.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.definitions.diagram import diagram_for
from engine.errors import InvalidInput
from engine.flows.diagram import to_bpmn
from engine.models import (
    Command,
    DecisionInstance,
    ElementInstance,
    Event,
    Incident,
    Job,
    ProcessDefinition,
    ProcessInstance,
    UserTask,
    Variable,
)
from engine.modification import activation_refusal
from engine.queries.common import get_or_404
from engine.queries.instances import instances
from flowsync import audit
from flowsync.models import AuditEntry

# An active element instance on its way out (canceling task listeners, or a call activity's child, still run:
# engine/runtime/termination.py): shown as TERMINATING, as Camunda's Operate does. Element data stays unread.
TERMINATING = ExpressionWrapper(Q(data__has_key="terminating"), output_field=BooleanField())

PAGE_SIZE = 25
STATES = tuple(ProcessInstance.State.values)


@dataclass(frozen=True)
class SortColumn:
    label: str
    columns: tuple[str, ...]  # ProcessInstance columns in order; the key always breaks ties last
    nullable_first: bool = False  # the first column can be NULL (NULLs sort as the largest value)


# Every column the list shows can order it; each order has an index (tenant_id, *columns) so that a page is
# an index range scan from the cursor, however deep (engine/migrations/0012_inspector_list_indexes).
SORT_COLUMNS: dict[str, SortColumn] = {
    "key": SortColumn("Key", ("key",)),
    "process": SortColumn("Process", ("definition_id", "key")),
    "business_key": SortColumn("Business key", ("business_key", "key")),
    "state": SortColumn("State", ("state", "start_date", "key")),
    "started": SortColumn("Started", ("start_date", "key")),
    "ended": SortColumn("Ended", ("end_date", "key"), nullable_first=True),
}
# "-column" is descending; the two names of the first version of this page stay valid in saved URLs.
SORT_ALIASES = {"newest": "-started", "oldest": "started"}
DEFAULT_SORT = "-started"
SORTS = {
    **{name: f"{c.label} ↑" for name, c in SORT_COLUMNS.items()},
    **{f"-{name}": f"{c.label} ↓" for name, c in SORT_COLUMNS.items()},
    "newest": "Newest first",
    "oldest": "Oldest first",
}


def normalize_sort(sort: str) -> str:
    sort = SORT_ALIASES.get(sort, sort)
    return sort if sort.lstrip("-") in SORT_COLUMNS else DEFAULT_SORT


# -- instances list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceFilters:
    process: str = ""  # bpmn process id
    version: int | None = None
    state: str = ""  # one of STATES or ""
    incident: bool | None = None  # True: with an active incident, False: without
    incident_type: str = ""  # an active incident of this error type
    incident_message: str = ""  # an active incident whose message contains this text
    incident_element: str = ""  # an active incident at this element id
    business_key: str = ""  # prefix
    key: int | None = None  # process instance key
    parent: int | None = None  # called by this process instance
    var_name: str = ""
    var_value: Any = None  # the parsed JSON value; only used with var_name
    var_op: str = "="  # one of VARIABLE_OPS
    active_element: str = ""  # element id with an active token
    started_from: dt.datetime | None = None  # inclusive
    started_to: dt.datetime | None = None  # exclusive
    ended_from: dt.datetime | None = None  # inclusive
    ended_to: dt.datetime | None = None  # exclusive

    @property
    def active(self) -> bool:
        return any(
            (self.process, self.version is not None, self.state, self.incident is not None, self.business_key,
             self.key is not None, self.var_name, self.started_from, self.started_to, self.active_element,
             self.incident_type, self.incident_message, self.incident_element, self.parent is not None,
             self.ended_from, self.ended_to)
        )


def filtered_instances(tenant_ids: list[int], filters: InstanceFilters) -> QuerySet[ProcessInstance]:
    return filter_instances(tenant_ids, filters).qs


@dataclass(frozen=True)
class Filtered:
    qs: QuerySet[ProcessInstance]  # for pages (instance_page) and selections
    for_count: QuerySet[ProcessInstance]  # the same instances, shaped for instance_counts
    at_least: int = 0  # matches known without counting (see filter_instances)


def filter_instances(tenant_ids: list[int], filters: InstanceFilters) -> Filtered:
    """The filtered instances, as a page reads them and as a capped count reads them (they differ for a
    common variable value: see _variable_match), and how many are known to match without counting them:
    when the variable filter is the only one, the distinct instances its search read on the way (at most
    FEW_MATCHES + 1), so a common value's list needs no count (instance_counts' `at_least`); 0 otherwise."""
    qs = instances(tenant_ids)
    if filters.process:
        qs = qs.filter(definition__bpmn_process_id=filters.process)
    if filters.version is not None:
        qs = qs.filter(definition__version=filters.version)
    if filters.state in STATES:
        qs = qs.filter(state=filters.state)
        if filters.state != ProcessInstance.State.ACTIVE:
            # True of every ended instance, and an index condition: a sort by end date then starts past
            # the running instances (NULL end dates) instead of reading through them.
            qs = qs.filter(end_date__isnull=False)
    if filters.incident is not None:
        qs = qs.filter(has_incident=filters.incident)
    if filters.incident_type or filters.incident_message or filters.incident_element:
        found = Incident.objects.filter(tenant_id__in=tenant_ids, state=Incident.State.ACTIVE)
        if filters.incident_type:
            found = found.filter(error_type=filters.incident_type)
        if filters.incident_message:
            found = found.filter(error_message__icontains=filters.incident_message)
        if filters.incident_element:
            found = found.filter(element_id=filters.incident_element)
        qs = qs.filter(has_incident=True, key__in=found.values("process_instance_key"))
    if filters.business_key:
        qs = qs.filter(business_key__startswith=filters.business_key)
    if filters.key is not None:
        qs = qs.filter(key=filters.key)
    if filters.parent is not None:
        qs = qs.filter(parent_instance_key=filters.parent)
    if filters.active_element:
        # Through ei_active_element_idx (tenant, element, instance; active tokens only).
        tokens = ElementInstance.objects.filter(tenant_id__in=tenant_ids, element_id=filters.active_element,
                                                state=ElementInstance.State.ACTIVE)
        qs = qs.filter(key__in=tokens.values("process_instance_id"))
    if filters.started_from is not None:
        qs = qs.filter(start_date__gte=filters.started_from)
    if filters.started_to is not None:
        qs = qs.filter(start_date__lt=filters.started_to)
    if filters.ended_from is not None:
        qs = qs.filter(end_date__gte=filters.ended_from)
    if filters.ended_to is not None:
        qs = qs.filter(end_date__lt=filters.ended_to)
    if not filters.var_name:
        return Filtered(qs, qs)
    paged, counted, found = _variable_match(tenant_ids, filters.var_name, filters.var_op, filters.var_value)
    alone = not dataclasses.replace(filters, var_name="", var_value=None, var_op="=").active
    return Filtered(qs.filter(paged), qs.filter(counted), found if alone else 0)


VARIABLE_OPS = {"=": "equals", ">": "greater than", "<": "less than", "contains": "contains"}
FEW_MATCHES = 2_000  # variable matches up to which the list is given the instance keys themselves
EQ_INDEXED_LENGTH = 512  # engine/migrations/0008: longer values are not in var_search_eq_idx


def variable_match(tenant_ids: list[int], name: str, op: str, value: Any) -> Q:
    """Instances with a variable (any scope) `name` op `value`, found through the variable search indexes.

    The predicates repeat the partial indexes' conditions (engine/migrations/0008) so PostgreSQL uses them:
    the matching variables are found first, then their instances (no scan over instances or variables).
    """
    return _variable_match(tenant_ids, name, op, value)[0]


def _variable_match(tenant_ids: list[int], name: str, op: str, value: Any) -> tuple[Q, Q, int]:
    """variable_match's condition for a page, the same for a capped count, and the distinct instances its
    first read found (at most FEW_MATCHES + 1; 0 where it did not look)."""
    if connection.vendor != "postgresql":
        if op != "=":
            raise InvalidInput(f"searching by '{op}' needs PostgreSQL")
        found = Q(Exists(Variable.objects.filter(process_instance_id=OuterRef("key"), name=name, value=value)))
        return found, found, 0
    where = ["tenant_id = ANY(%s)", "name = %s"]
    params: list[Any] = [list(tenant_ids), name]
    if op == "=":
        text = json.dumps(value)
        if isinstance(value, (str, int, float, bool)) and len(text) <= EQ_INDEXED_LENGTH:
            where.append("jsonb_typeof(value) IN ('string', 'number', 'boolean') AND octet_length(value::text) <= 512")
        where.append("value = %s::jsonb")
        params.append(text)
    elif op in (">", "<"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"'{op}' compares numbers; give a number")
        where.append(f"jsonb_typeof(value) = 'number' AND (value)::numeric {op} %s")
        params.append(value)
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise InvalidInput("'contains' looks for text; give a non-empty string")
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("jsonb_typeof(value) = 'string' AND (value #>> '{}') ILIKE %s")
        params.append(f"%{escaped}%")
    else:
        raise InvalidInput(f"unknown comparison '{op}'")
    sql = "SELECT process_instance_id FROM engine_variable WHERE " + " AND ".join(where)
    # A rare value: read its few instance keys first and hand the list the keys. As a subquery, PostgreSQL
    # misjudges how rare a range or text match is and walks a million instances newest-first probing each
    # (seconds); for a common value that walk finds a page at once, so it is made the only plan (below).
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT process_instance_id FROM ({sql} LIMIT %s) found", [*params, FEW_MATCHES + 1])
        keys = [row[0] for row in cur.fetchall()]
    if len(keys) <= FEW_MATCHES:
        return Q(key__in=keys), Q(key__in=keys), len(keys)
    # A common value: a page walks its sort's index and asks each instance (var_instance_idx: instance,
    # name), stopping at a page. As `key IN (…)` PostgreSQL could also gather every match first and sort
    # them, and it did for a text in a third of the values (1.8 s at 10 M variables, against ~1 ms walking);
    # OFFSET 0 keeps the EXISTS a per-instance probe (PostgreSQL does not turn it into a join then). A count
    # keeps `IN`: narrowed by another filter (state) it would otherwise walk every instance that filter leaves
    # asking each (1.1 s for 2,700 matches among 100,000 running), where gathering the matches takes 40 ms.
    table = ProcessInstance._meta.db_table
    probe = (f'EXISTS (SELECT 1 FROM engine_variable WHERE process_instance_id = "{table}"."key" AND '
             + " AND ".join(where) + " OFFSET 0)")
    return Q(RawSQL(probe, params, output_field=BooleanField())), Q(key__in=RawSQL(sql, params)), len(keys)


COUNT_LIMIT = 1_000  # counting a million matches would cost more than the page itself
COUNT_BUDGET_MS = 100


def instance_counts(qs: QuerySet[ProcessInstance], limit: int = COUNT_LIMIT, at_least: int = 0) -> dict[str, Any]:
    """Totals of a filtered list by state and incident, in one query over at most `limit` + 1 matches;
    `capped` says the list has more than `limit` (the totals then count only the first ones, so the page
    shows "more than 1000" and no breakdown). `at_least`: matches known already (filter_instances); above
    `limit`, nothing is counted: capping a common value's count read every match before the cap (the
    instances' join deduplicates the variable rows first: 0.5–0.9 s at 10 M variables, past the budget).
    """
    if at_least > limit:
        return {"total": limit, "active": 0, "completed": 0, "terminated": 0, "with_incident": 0, "capped": True,
                "uncounted": False}
    sliced = qs.order_by()[: limit + 1]
    totals = {
        "total": Count("key"),
        "active": Count("key", filter=Q(state=ProcessInstance.State.ACTIVE)),
        "completed": Count("key", filter=Q(state=ProcessInstance.State.COMPLETED)),
        "terminated": Count("key", filter=Q(state=ProcessInstance.State.TERMINATED)),
        "with_incident": Count("key", filter=Q(has_incident=True)),
    }
    if connection.vendor != "postgresql":
        counts: dict[str, Any] = sliced.aggregate(**totals)
    else:
        # Some filter combinations make even a capped count slow (PostgreSQL may read every match before
        # the cap): past its budget the count gives up, and the page says it did not count.
        try:
            with transaction.atomic(), connection.cursor() as cur:
                # set_config(…, true) lasts to the end of the transaction: put the old value back after.
                cur.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                            [str(COUNT_BUDGET_MS)])
                previous = cur.fetchone()[0]
                counts = sliced.aggregate(**totals)
                cur.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        except OperationalError:
            return {"total": 0, "active": 0, "completed": 0, "terminated": 0, "with_incident": 0, "capped": False,
                    "uncounted": True}
    counts["uncounted"] = False
    counts["capped"] = counts["total"] > limit
    if counts["capped"]:
        counts["total"] = limit
    return counts


@dataclass
class Page:
    items: list[Any]
    next_cursor: str = ""
    prev_cursor: str = ""


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> list[Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, list) else None


def _cursor_values(token: str, sort: str, spec: SortColumn) -> list[Any] | None:
    """The row values a cursor stands for, parsed back to their column types; None when it is not valid here."""
    data = _decode(token)
    if not data or len(data) != len(spec.columns) + 1 or data[0] != sort:
        return None
    values: list[Any] = []
    for column, raw in zip(spec.columns, data[1:], strict=True):
        if raw is None and not (spec.nullable_first and column == spec.columns[0]):
            return None
        if raw is None:
            values.append(None)
        elif column in ("start_date", "end_date"):
            try:
                when = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                return None
            if when is None or when.tzinfo is None:
                return None
            values.append(when)
        elif column in ("key", "definition_id"):
            if not isinstance(raw, int) or isinstance(raw, bool):
                return None
            values.append(raw)
        elif isinstance(raw, str):
            values.append(raw)
        else:
            return None
    return values


def _cursor_token(sort: str, spec: SortColumn, row: ProcessInstance) -> str:
    values = [getattr(row, column) for column in spec.columns]
    return _encode([sort, *[v.isoformat() if isinstance(v, dt.datetime) else v for v in values]])


def _beyond(spec: SortColumn, values: list[Any], toward_larger: bool) -> RawSQL:
    """Rows strictly after `values` in (columns…) order: one row comparison, which an index range scan serves.

    A NULL first column (an instance that has not ended) counts as larger than every date, as PostgreSQL
    orders it (ASC NULLS LAST, DESC NULLS FIRST), so one index serves both directions.
    """
    table = ProcessInstance._meta.db_table
    cols = [f'"{table}"."{c}"' for c in spec.columns]
    op = ">" if toward_larger else "<"
    if spec.nullable_first and values[0] is None:
        rest = f"({', '.join(cols[1:])}) {op} ({', '.join(['%s'] * (len(cols) - 1))})"
        sql = f"({cols[0]} IS NULL AND {rest})" + ("" if toward_larger else f" OR {cols[0]} IS NOT NULL")
        params = values[1:]
    else:
        sql = f"({', '.join(cols)}) {op} ({', '.join(['%s'] * len(cols))})"
        if spec.nullable_first and toward_larger:
            sql = f"({sql} OR {cols[0]} IS NULL)"
        params = values
    return RawSQL(sql, params, output_field=BooleanField())


def instance_page(
    qs: QuerySet[ProcessInstance], sort: str = DEFAULT_SORT, *, after: str = "", before: str = "",
    size: int = PAGE_SIZE
) -> Page:
    """One page in the order of `sort` ("column" ascending, "-column" descending), after or before a cursor.

    Keyset pagination: the cursor holds the last row's sort values and key, so a deep page costs what the
    first one does and rows inserted meanwhile neither repeat nor vanish.
    """
    sort = normalize_sort(sort)
    spec = SORT_COLUMNS[sort.lstrip("-")]
    descending = sort.startswith("-")
    backwards, cursor = False, None
    if before:
        cursor = _cursor_values(before, sort, spec)
        backwards = cursor is not None
    if cursor is None and after:
        cursor = _cursor_values(after, sort, spec)
    toward_larger = descending == backwards
    if cursor is not None:
        qs = qs.filter(_beyond(spec, cursor, toward_larger))
    order = [F(c).asc(nulls_last=True) if toward_larger else F(c).desc(nulls_first=True) for c in spec.columns]
    rows = list(qs.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    result = Page(rows)
    if rows:
        if more if not backwards else True:
            result.next_cursor = _cursor_token(sort, spec, rows[-1])
        if (cursor is not None) if not backwards else more:
            result.prev_cursor = _cursor_token(sort, spec, rows[0])
    elif cursor is not None and not backwards:
        result.prev_cursor = after
    return result


def definition_choices(tenant_ids: list[int]) -> list[tuple[str, str, list[int]]]:
    """(process id, latest name, versions newest first) of every deployed process, in one query."""
    found: dict[str, tuple[str, list[int]]] = {}
    rows = (
        ProcessDefinition.objects.filter(tenant_id__in=tenant_ids)
        .order_by("bpmn_process_id", "-version")
        .values_list("bpmn_process_id", "version", "name")
    )
    for process_id, version, name in rows:
        if process_id not in found:
            found[process_id] = (name or process_id, [])
        found[process_id][1].append(version)
    return sorted(((pid, name, versions) for pid, (name, versions) in found.items()), key=lambda c: c[1].lower())


@dataclass
class DefinitionVersion:
    definition: ProcessDefinition
    running: int = 0
    completed: int = 0
    terminated: int = 0
    with_incident: int = 0
    counted_at: dt.datetime | None = None  # when `completed` / `terminated` were counted (None: not yet)
    # Start to end of the instances completed in the day before counted_at (seconds; None: none completed)
    duration_p50: float | None = None
    duration_p99: float | None = None
    durations: int = 0


def definitions_overview(tenant_ids: list[int], process: str = "") -> list[tuple[str, str, list[DefinitionVersion]]]:
    """Each process (id, latest name) with its versions newest first and their instance counts; only `process`
    when given. Running instances and those with an incident are counted live (the ACTIVE entries of the
    (definition, state) index; the active incidents); finished ones come from the periodic count
    (engine/store/definition_counts.py), whose time each version carries, with the start-to-end times of its
    recently completed instances: no scan over the history per view."""
    found = ProcessDefinition.objects.filter(tenant_id__in=tenant_ids).defer("source", "graph")
    if process:
        found = found.filter(bpmn_process_id=process)
    rows = list(found.select_related("counts").order_by("bpmn_process_id", "-version"))
    keys = [d.key for d in rows]
    running = dict(ProcessInstance.objects.filter(definition_id__in=keys, state=ProcessInstance.State.ACTIVE)
                   .values("definition_id").annotate(n=Count("*")).order_by().values_list("definition_id", "n"))
    with_incident = dict(Incident.objects.filter(tenant_id__in=tenant_ids, state=Incident.State.ACTIVE,
                                                 process_definition_key__in=keys)
                         .values("process_definition_key").annotate(n=Count("process_instance_key", distinct=True))
                         .order_by().values_list("process_definition_key", "n"))
    grouped: dict[str, tuple[str, list[DefinitionVersion]]] = {}
    for d in rows:
        counted = getattr(d, "counts", None)
        entry = grouped.setdefault(d.bpmn_process_id, (d.name or d.bpmn_process_id, []))
        entry[1].append(DefinitionVersion(
            d, running.get(d.key, 0), counted.completed if counted else 0, counted.terminated if counted else 0,
            with_incident.get(d.key, 0), counted.counted_at if counted else None,
            counted.duration_p50 if counted else None, counted.duration_p99 if counted else None,
            counted.durations if counted else 0))
    return sorted(((pid, name, versions) for pid, (name, versions) in grouped.items()), key=lambda g: g[1].lower())


# -- one instance -------------------------------------------------------------------------------------


def get_instance(tenant_ids: list[int], key: int) -> ProcessInstance:
    """The instance (with its definition, without the XML) or NotFound."""
    return get_or_404(instances(tenant_ids), key, "process instance")


@dataclass
class Scope:
    key: int
    label: str  # "Process" or the element id of the scope
    is_process: bool
    variables: list[Variable] = field(default_factory=list)


@dataclass
class InstanceDetail:
    instance: ProcessInstance
    parent: ProcessInstance | None
    root: ProcessInstance | None
    children: list[ProcessInstance]
    elements: list[ElementInstance]
    scopes: list[Scope]
    incidents: list[Incident]
    jobs: dict[int, Job]
    user_tasks: list[UserTask]

    @property
    def active_incidents(self) -> list[Incident]:
        return [i for i in self.incidents if i.state == Incident.State.ACTIVE]


def instance_detail(tenant_ids: list[int], key: int) -> InstanceDetail:
    instance = get_instance(tenant_ids, key)
    related_keys = {k for k in (instance.parent_instance_key, instance.root_instance_key) if k and k != key}
    related = {p.key: p for p in instances(tenant_ids).filter(key__in=related_keys)} if related_keys else {}
    children = list(instances(tenant_ids).filter(parent_instance_key=key).order_by("start_date", "key"))
    elements = list(
        ElementInstance.objects.filter(process_instance_id=key, tenant_id__in=tenant_ids).defer("data")
        .annotate(terminating=TERMINATING).order_by("key")
    )
    by_key = {e.key: e for e in elements}
    scopes: dict[int, Scope] = {}
    for var in Variable.objects.filter(process_instance_id=key, tenant_id__in=tenant_ids).order_by("scope_key", "name"):
        scope = scopes.get(var.scope_key)
        if scope is None:
            element = by_key.get(var.scope_key)
            is_process = var.scope_key == key
            label = "Process" if is_process else (element.element_id if element else str(var.scope_key))
            scope = scopes[var.scope_key] = Scope(var.scope_key, label, is_process)
        scope.variables.append(var)
    ordered_scopes = sorted(scopes.values(), key=lambda s: (not s.is_process, s.key))
    incidents = list(Incident.objects.filter(process_instance_key=key, tenant_id__in=tenant_ids).order_by("-key"))
    jobs = {j.key: j for j in Job.objects.filter(process_instance_key=key, tenant_id__in=tenant_ids).order_by("key")}
    tasks = list(
        UserTask.objects.filter(process_instance_key=key, tenant_id__in=tenant_ids)
        .only("key", "name", "element_id", "state", "assignee", "creation_date", "completion_date", "due_date")
        .order_by("key")
    )
    return InstanceDetail(
        instance=instance,
        parent=related.get(instance.parent_instance_key) if instance.parent_instance_key else None,
        root=related.get(instance.root_instance_key) if instance.root_instance_key != key else None,
        children=children,
        elements=elements,
        scopes=ordered_scopes,
        incidents=incidents,
        jobs=jobs,
        user_tasks=tasks,
    )


def diagram(tenant_ids: list[int], key: int) -> dict[str, Any]:
    """The definition's XML and, per element id, active tokens, active incidents and completions."""
    instance = get_instance(tenant_ids, key)
    source = (
        ProcessDefinition.objects.filter(key=instance.definition_id)
        .values_list("source", flat=True)
        .first()
    )
    active: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    for element_id, state in ElementInstance.objects.filter(process_instance_id=key).exclude(key=key).values_list(
        "element_id", "state"
    ):
        if state == ElementInstance.State.ACTIVE:
            active[element_id] += 1
        elif state == ElementInstance.State.COMPLETED:
            completed[element_id] += 1
    incidents = Counter(
        Incident.objects.filter(process_instance_key=key, state=Incident.State.ACTIVE).values_list(
            "element_id", flat=True
        )
    )
    ids = set(active) | set(completed) | set(incidents)
    # Business rule tasks that ran: the decision each called (not those it required), its state and result.
    decisions: dict[str, list[dict[str, Any]]] = {}
    for e in (DecisionInstance.objects.filter(tenant_id__in=tenant_ids, process_instance_key=key,
                                              root_decision_key=F("decision_id"))
              .select_related("decision").only("element_id", "state", "result", "evaluation_failure",
                                               "decision__decision_id", "decision__name", "decision__version")
              .order_by("evaluation_key")):
        decisions.setdefault(e.element_id, []).append({
            "decision": e.decision.name or e.decision.decision_id, "decisionId": e.decision.decision_id,
            "version": e.decision.version, "state": e.state,
            "result": e.result if e.state == DecisionInstance.State.EVALUATED else e.evaluation_failure})
    if source and instance.definition.kind == ProcessDefinition.Kind.DAG:
        # A flow is drawn from its graph, written out as BPMN.
        source = to_bpmn(graph_of(cached_definition(instance.definition_id)))
    drawn = diagram_for(instance.definition_id, source) if source else None
    return {
        "processInstanceKey": str(key),
        "kind": instance.definition.kind,
        "xml": drawn.xml if drawn else None,
        "laidOut": bool(drawn and drawn.laid_out),
        "layoutProblem": drawn.problem if drawn else "",
        "elements": {
            element_id: {"active": active[element_id], "completed": completed[element_id],
                         "incidents": incidents[element_id]}
            for element_id in sorted(ids)
        },
        "decisions": decisions,
    }


@dataclass
class TimelineEntry:
    event_id: int
    created_at: dt.datetime
    command_kind: str
    actor: str
    index: int  # position of the record inside its event
    record: dict[str, Any]
    operator_act: bool = False  # an audit entry (flowsync.audit): a person or client changed the instance

    @property
    def details(self) -> dict[str, Any]:
        return {k: v for k, v in self.record.items() if k not in ("intent", "elementId", "elementType", "key")}


def timeline(tenant_ids: list[int], key: int) -> list[TimelineEntry]:
    """The instance's events, flattened record by record in the order they happened, with their actor."""
    events = list(
        Event.objects.filter(process_instance_key=key, tenant_id__in=tenant_ids)
        .only("id", "command_id", "command_kind", "created_at", "records")
        .order_by("id")
    )
    command_ids = {e.command_id for e in events if e.command_id is not None}
    actors = dict(Command.objects.filter(id__in=command_ids).values_list("id", "actor")) if command_ids else {}
    entries = []
    for event in events:
        actor = actors.get(event.command_id, "") if event.command_id is not None else ""
        for i, record in enumerate(event.records or []):
            if isinstance(record, dict):
                entries.append(TimelineEntry(event.id, event.created_at, event.command_kind, actor, i, record))
    return _with_operator_acts(entries, audit.for_instance(tenant_ids, key))


def _with_operator_acts(entries: list[TimelineEntry], acts: list[AuditEntry]) -> list[TimelineEntry]:
    """The instance's audit entries interleaved with its events by time (an act comes before the events it
    caused: it is written when the command is, the events when the engine applies it). An act carries the
    id of the last event before it, so the page's live version still follows the engine's writes."""
    merged: list[TimelineEntry] = []
    pending = iter(acts)
    act = next(pending, None)
    for entry in entries:
        while act is not None and act.created_at <= entry.created_at:
            merged.append(_act_entry(act, merged[-1].event_id if merged else 0))
            act = next(pending, None)
        merged.append(entry)
    while act is not None:
        merged.append(_act_entry(act, merged[-1].event_id if merged else 0))
        act = next(pending, None)
    return merged


def _act_entry(act: AuditEntry, event_id: int) -> TimelineEntry:
    record: dict[str, Any] = {"intent": act.what, "via": act.via}
    if act.target_key and act.target_key != str(act.process_instance_key):
        record["key"] = act.target_key
    for name in ("before", "after"):
        if getattr(act, name):
            record[name] = getattr(act, name)
    if act.request_id:
        record["requestId"] = act.request_id
    return TimelineEntry(event_id, act.created_at, "operator act", act.who, 0, record, operator_act=True)


# -- incidents ------------------------------------------------------------------------------------------


def incident_list(tenant_ids: list[int], state: str = "ACTIVE", process: str = "") -> QuerySet[Incident]:
    qs = Incident.objects.filter(tenant_id__in=tenant_ids)
    if state in Incident.State.values:
        qs = qs.filter(state=state)
    if process:
        qs = qs.filter(bpmn_process_id=process)
    return qs


def incident_page(qs: QuerySet[Incident], *, after: str = "", size: int = PAGE_SIZE) -> Page:
    """Newest incidents first (keys grow with time), after a cursor."""
    data = _decode(after) if after else None
    if data and len(data) == 1 and isinstance(data[0], int):
        qs = qs.filter(key__lt=data[0])
    rows = list(qs.order_by("-key")[: size + 1])
    result = Page(rows[:size])
    if len(rows) > size:
        result.next_cursor = _encode([rows[size - 1].key])
    return result


def active_incidents(tenant_ids: list[int], process: str = "") -> list[Incident]:
    return list(incident_list(tenant_ids, "ACTIVE", process).order_by("key"))


def incident_jobs(incidents: list[Incident]) -> dict[int, Job]:
    keys = {i.job_key for i in incidents if i.job_key}
    return {j.key: j for j in Job.objects.filter(key__in=keys)} if keys else {}



# -- modification ---------------------------------------------------------------------------------------


@dataclass
class ModificationOptions:
    """What the instance page offers to move, terminate and activate (engine/modification.py decides)."""

    sources: list[tuple[int, str]]  # active element instances: (key, "Name (id) · key")
    targets: list[tuple[str, str]]  # activatable elements: (id, "Name (id)")


def element_names(instance: ProcessInstance) -> dict[str, str]:
    """Element id → its name (or its id when unnamed), for tables that show names with ids on hover."""
    graph = graph_of(cached_definition(instance.definition_id))
    return {element_id: element.name or element_id for element_id, element in graph.elements.items()}


def modification_options(detail: InstanceDetail) -> ModificationOptions:
    instance = detail.instance
    graph = graph_of(cached_definition(instance.definition_id))
    by_key = {e.key: e for e in detail.elements}

    def label(element_id: str) -> str:
        element = graph.elements.get(element_id)
        name = element.name if element is not None else ""
        return f"{name} ({element_id})" if name else element_id

    sources = []
    for e in detail.elements:
        if e.state != ElementInstance.State.ACTIVE or e.key == instance.key:
            continue
        scope = by_key.get(e.flow_scope_key) if e.flow_scope_key is not None else None
        if scope is not None and scope.element_type == "MULTI_INSTANCE_BODY" and scope.element_id == e.element_id:
            continue  # one instance of a multi-instance activity: its body is what can be moved
        sources.append((e.key, f"{label(e.element_id)} · {e.key}"))
    targets = [(element_id, label(element_id)) for element_id in sorted(
        graph.elements, key=lambda i: (graph.elements[i].name or i).lower()) if activation_refusal(graph, element_id)
        is None]
    return ModificationOptions(sources, targets)
