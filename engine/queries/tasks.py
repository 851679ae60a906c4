"""Who sees which user tasks: tenant-scoped task lists with keyset pagination and counts.

The Tasklist pages use it; the /v2 user-task search can reuse it. Four lists:

- ``assigned``: open tasks whose assignee is the viewer;
- ``offered``: open, unassigned tasks with the viewer among the candidate users or one of the
  viewer's groups among the candidate groups (through the indexed UserTaskCandidate rows, which
  exist only while a task is open);
- ``completed``: tasks the viewer completed;
- ``all``: every open task of the tenant, for viewers holding ``engine.view_usertask``.

Pages are keyset-paginated: a cursor holds the sort values of the row it starts after (or
before), so page 500 costs what page 1 costs. Counts are capped (``COUNT_CAP``): a tab shows
"1000+" rather than counting a million rows on every page view.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from engine.models import ProcessDefinition, UserTask, UserTaskCandidate, Variable
from engine.visibility import visible_from_rows

CREATED = UserTask.State.CREATED
COMPLETED = UserTask.State.COMPLETED

LISTS = ("assigned", "offered", "completed", "all")
COUNT_CAP = 1_000  # each counted offered task is a primary-key probe: 10,000 of them took 150 ms
PAGE_SIZE = 25

# Columns a list row shows; the JSON columns (headers, candidates) stay in the table.
LIST_COLUMNS = (
    "key", "tenant_id", "process_instance_key", "bpmn_process_id", "process_definition_version", "process_name",
    "business_key", "name", "element_id", "state", "assignee", "due_date", "follow_up_date", "priority",
    "creation_date", "completion_date", "completed_by",
)

# Camunda Tasklist's priority bands.
PRIORITY_BANDS = {
    "low": (0, 25),
    "medium": (26, 50),
    "high": (51, 75),
    "critical": (76, 100),
}
DUE_FILTERS = ("overdue", "today", "week")
SUBSTRING_MIN = 3  # the search matches task and process names by substring from this length, else by prefix


@dataclass(frozen=True)
class Viewer:
    """The person a list is for, inside one tenant."""

    tenant_id: int  # Tenant primary key
    username: str
    groups: tuple[str, ...] = ()
    can_see_all: bool = False
    # Processes whose tasks count as offered to this viewer (a per-process WORK_TASKS grant, engine.rights).
    processes: frozenset[str] = frozenset()
    # The role's WORK_TASKS: without it (an auditor) nothing is offered by name or group, only by grant.
    works: bool = True

    def lists(self) -> tuple[str, ...]:
        return LISTS if self.can_see_all else LISTS[:3]

    def is_candidate(self, task: UserTask) -> bool:
        offered_by_name = self.username in (task.candidate_users or []) or bool(
            set(self.groups) & set(task.candidate_groups or []))
        return (self.works and offered_by_name) or task.bpmn_process_id in self.processes

    def can_view(self, task: UserTask) -> bool:
        """Assigned or offered to me (even if someone claimed it since), completed by me, or see-all."""
        if task.tenant_id != self.tenant_id:
            return False
        return (
            self.can_see_all
            or task.assignee == self.username
            or task.completed_by == self.username
            or self.is_candidate(task)
        )

    def can_claim(self, task: UserTask) -> bool:
        return self.can_see_all or self.is_candidate(task)

    def visible(self) -> Q:
        """`can_view` as a filter over the tenant's tasks (for searches, e.g. the API's)."""
        if self.can_see_all:
            return Q(tenant_id=self.tenant_id)
        offered = Q(candidate_users__contains=[self.username]) if self.works else Q(pk__in=[])
        for group in self.groups if self.works else ():
            offered |= Q(candidate_groups__contains=[group])
        if self.processes:
            offered |= Q(bpmn_process_id__in=sorted(self.processes))
        return Q(tenant_id=self.tenant_id) & (Q(assignee=self.username) | Q(completed_by=self.username) | offered)


@dataclass(frozen=True)
class TaskFilters:
    process: str = ""  # bpmn process id
    name: str = ""  # part of the task name
    due: str = ""  # "", "overdue", "today", "week"
    priority: str = ""  # "", or a PRIORITY_BANDS key
    q: str = ""  # business key (prefix), task key, or text in the task or process name

    @property
    def active(self) -> bool:
        return any((self.process, self.name, self.due, self.priority, self.q))


@dataclass(frozen=True)
class Column:
    name: str
    descending: bool = False
    nullable: bool = False  # NULLs sort last in the forward direction


@dataclass(frozen=True)
class Sort:
    label: str
    columns: tuple[Column, ...]


SORTS: dict[str, Sort] = {
    "created": Sort("Newest first", (Column("creation_date", True), Column("key", True))),
    "oldest": Sort("Oldest first", (Column("creation_date"), Column("key"))),
    "due": Sort("Due date", (Column("due_date", nullable=True), Column("key"))),
    "priority": Sort("Priority", (Column("priority", True), Column("key", True))),
    "completed": Sort("Recently completed", (Column("completion_date", True, nullable=True), Column("key", True))),
}
DEFAULT_SORT = {"assigned": "created", "offered": "created", "completed": "completed", "all": "created"}


def sorts_for(list_name: str) -> dict[str, Sort]:
    return {k: v for k, v in SORTS.items() if k != "completed" or list_name == "completed"}


@dataclass
class Page:
    items: list[UserTask]
    sort: str
    next_cursor: str = ""  # pass as `after`
    prev_cursor: str = ""  # pass as `before`
    filters: TaskFilters = field(default_factory=TaskFilters)

    @property
    def is_first(self) -> bool:
        return not self.prev_cursor


# -- the lists ----------------------------------------------------------------------------------


def candidate_task_keys(viewer: Viewer) -> QuerySet:
    """Keys of open tasks offered to the viewer: the candidate rows naming them or one of their groups.

    Read by an index-only scan of (tenant, kind, name, task) when the offer drives, or probed by task
    (the task_id index) when a list's order does.
    """
    match = Q(kind=UserTaskCandidate.Kind.USER, name=viewer.username)
    if viewer.groups:
        match |= Q(kind=UserTaskCandidate.Kind.GROUP, name__in=list(viewer.groups))
    return UserTaskCandidate.objects.filter(match, tenant_id=viewer.tenant_id).values("task_id")


def task_list(viewer: Viewer, list_name: str) -> QuerySet:
    """The unfiltered, unordered queryset of one list. Raises PermissionError for `all` without the right.

    "offered" is a semi-join on the viewer's candidate rows, which PostgreSQL runs either way round: for
    a page it walks the sort's index (task_assignee_idx, task_open_due_idx, task_open_priority_idx; a
    filter's own index) and probes each task's candidate rows by task, stopping after one page, or, for a
    small offer, reads the offer and sorts it. Counts do not use it (``counts``).
    """
    qs = UserTask.objects.filter(tenant_id=viewer.tenant_id)
    if list_name == "assigned":
        return qs.filter(assignee=viewer.username, state=CREATED)
    if list_name == "offered":
        if not viewer.works:  # no WORK_TASKS by role: only the granted processes' tasks
            # (never an empty IN: counts() composes this query's SQL, which an empty IN cannot give)
            offered = Q(bpmn_process_id__in=sorted(viewer.processes) or [""])
        elif viewer.processes:  # granted processes' tasks too (rare: no index trick needed)
            offered = Q(key__in=candidate_task_keys(viewer)) | Q(bpmn_process_id__in=sorted(viewer.processes))
        else:
            offered = Q(key__in=candidate_task_keys(viewer))
        return qs.filter(offered, state=CREATED, assignee="")
    if list_name == "completed":
        # The Tasklist completes only tasks the person holds, so completed_by == assignee there;
        # filtering on the assignee too lets the (tenant, assignee, state, -creation_date) index serve it.
        return qs.filter(assignee=viewer.username, state=COMPLETED, completed_by=viewer.username)
    if list_name == "all":
        if not viewer.can_see_all:
            raise PermissionError("the 'all' list needs the engine.view_usertask permission")
        return qs.filter(state=CREATED)
    raise ValueError(f"unknown task list {list_name!r}")


def apply_filters(qs: QuerySet, filters: TaskFilters, now: dt.datetime, tz: dt.tzinfo) -> QuerySet:
    if filters.process:
        qs = qs.filter(bpmn_process_id=filters.process)
    if filters.name:
        contains = "icontains" if len(filters.name) >= SUBSTRING_MIN else "istartswith"
        qs = qs.filter(**{f"name__{contains}": filters.name})
    if filters.priority in PRIORITY_BANDS:
        low, high = PRIORITY_BANDS[filters.priority]
        qs = qs.filter(priority__gte=low, priority__lte=high)
    if filters.due in DUE_FILTERS:
        start, end = due_window(filters.due, now, tz)
        qs = qs.filter(due_date__lt=end) if start is None else qs.filter(due_date__gte=start, due_date__lt=end)
    if filters.q:
        text = filters.q.strip()
        # Names by substring from three characters on (a trigram index finds those, engine/migrations/0027);
        # a shorter term has no trigram to look up and would filter every open task, so it matches a prefix.
        contains = "icontains" if len(text) >= SUBSTRING_MIN else "istartswith"
        match = (Q(business_key__istartswith=text) | Q(**{f"name__{contains}": text})
                 | Q(**{f"process_name__{contains}": text}))
        if text.isdigit() and len(text) < 19:
            match |= Q(key=int(text)) | Q(process_instance_key=int(text))
        qs = qs.filter(match)
    return qs


def due_window(due: str, now: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime]:
    """[start, end) of a due-date filter; days and weeks are the viewer's, in their time zone."""
    if due == "overdue":
        return None, now
    local = now.astimezone(tz)
    day = dt.datetime.combine(local.date(), dt.time(), tzinfo=tz)
    if due == "today":
        return day, _next_day(day, 1, tz)
    monday = day - dt.timedelta(days=local.weekday())
    monday = dt.datetime.combine(monday.date(), dt.time(), tzinfo=tz)
    return monday, _next_day(monday, 7, tz)


def _next_day(start: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    # Wall-clock arithmetic, so a day with a DST change is still midnight to midnight.
    return dt.datetime.combine(start.date() + dt.timedelta(days=days), dt.time(), tzinfo=tz)


def counts(viewer: Viewer, cap: int = COUNT_CAP) -> dict[str, int]:
    """Rows in each list the viewer has, counted up to `cap` (cap + 1 means "more than cap").

    One statement (a scalar subquery per list), so a page pays one round trip for its tabs.
    """
    names = viewer.lists()
    parts, params = [], []
    for i, name in enumerate(names):
        if name == "offered" and _counts_offer_by_name(viewer):
            sql, part_params = _offered_count(viewer, cap)
        else:
            sql, part_params = task_list(viewer, name).values("key")[: cap + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS list{i})")
        params.extend(part_params)
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(parts), params)
        row = cur.fetchone()
    return dict(zip(names, (int(n) for n in row), strict=True))


def _counts_offer_by_name(viewer: Viewer) -> bool:
    return connection.vendor == "postgresql" and viewer.works and not viewer.processes


def _offered_count(viewer: Viewer, cap: int) -> tuple[str, list[Any]]:
    """Up to cap + 1 rows of the viewer's offer (``task_list(viewer, "offered")``), read from its candidate rows.

    The semi-join that pages well would, to count, walk the open tasks until cap + 1 of them are offered
    (25,000 for a 4% share), and reading the whole offer to de-duplicate it costs what the offer weighs
    (220,000 candidate rows: ~80 ms of CPU). Instead, name by name (the viewer, then each group: LATERAL,
    so in that order), candidate rows are read until cap + 1 open, unassigned tasks were found, each
    checked by primary key; a task offered through an earlier name too is skipped, so no task counts twice
    and the outer LIMIT stops after cap + 1 distinct tasks: ~1,000 probes whatever the offer's size.
    """
    candidates = connection.ops.quote_name(UserTaskCandidate._meta.db_table)
    tasks = connection.ops.quote_name(UserTask._meta.db_table)
    key = connection.ops.quote_name("key")
    names: list[tuple[str, str, list[str], list[str]]] = [(UserTaskCandidate.Kind.USER, viewer.username, [], [])]
    groups = list(viewer.groups)
    names += [(UserTaskCandidate.Kind.GROUP, g, [viewer.username], groups[:i]) for i, g in enumerate(groups)]
    values = ", ".join(["(%s, %s, %s::text[], %s::text[])"] * len(names))
    params: list[Any] = [value for row in names for value in row]
    sql = f"""
        SELECT l.task_id FROM (VALUES {values}) AS v(kind, name, users_before, groups_before)
        CROSS JOIN LATERAL (
            SELECT c.task_id FROM {candidates} c
            WHERE c.tenant_id = %s AND c.kind = v.kind AND c.name = v.name
              -- a scalar subquery, so a probe by key per candidate row (never a join over the open tasks)
              AND (SELECT t.state = %s AND t.assignee = '' FROM {tasks} t WHERE t.{key} = c.task_id)
              AND NOT EXISTS (
                  SELECT 1 FROM {candidates} d
                  WHERE d.task_id = c.task_id AND d.tenant_id = %s
                    AND (d.kind = %s AND d.name = ANY(v.users_before) OR d.kind = %s AND d.name = ANY(v.groups_before)))
            LIMIT %s
        ) AS l
        LIMIT %s"""
    params += [viewer.tenant_id, CREATED, viewer.tenant_id, UserTaskCandidate.Kind.USER, UserTaskCandidate.Kind.GROUP,
               cap + 1, cap + 1]
    return sql, params


def page(
    qs: QuerySet,
    sort: str,
    *,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
    filters: TaskFilters | None = None,
) -> Page:
    """One page of `qs` in `sort` order, after or before a cursor (keyset pagination)."""
    spec = SORTS[sort]
    backwards = False
    cursor: list[Any] | None = None
    if before:
        cursor = decode_cursor(before, spec, sort)
        backwards = cursor is not None
    if cursor is None and after:
        cursor = decode_cursor(after, spec, sort)
    if cursor is not None:
        qs = qs.filter(_beyond(spec.columns, cursor, backwards))
    qs = qs.order_by(*_ordering(spec.columns, backwards)).only(*LIST_COLUMNS)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    result = Page(rows, sort, filters=filters or TaskFilters())
    if rows:
        has_next = more if not backwards else True
        has_prev = (cursor is not None) if not backwards else more
        if has_next:
            result.next_cursor = encode_cursor(sort, spec, rows[-1])
        if has_prev:
            result.prev_cursor = encode_cursor(sort, spec, rows[0])
    elif cursor is not None and not backwards:
        # Ran past the end (rows went away): offer the way back.
        result.prev_cursor = after
    return result


def _ordering(columns: Sequence[Column], backwards: bool) -> list[Any]:
    order = []
    for col in columns:
        descending = col.descending != backwards
        expr = F(col.name)
        if col.nullable:
            # NULLs last going forward, so first going backwards.
            nulls = {"nulls_first": True} if backwards else {"nulls_last": True}
            order.append(expr.desc(**nulls) if descending else expr.asc(**nulls))
        else:
            order.append(expr.desc() if descending else expr.asc())
    return order


def _beyond(columns: Sequence[Column], values: Sequence[Any], backwards: bool) -> Q:
    """Rows strictly after (or before) the cursor row in the sort order, as an OR of prefixes."""
    result = Q(pk__in=[])
    equal = Q()
    for col, value in zip(columns, values, strict=True):
        result |= equal & _past(col, value, backwards)
        equal &= Q(**{f"{col.name}__isnull": True}) if value is None else Q(**{col.name: value})
    first, value = columns[0], values[0]
    if not first.nullable and value is not None:
        # Implied by the OR above, but stated plainly it becomes an index range bound.
        greater = first.descending == backwards
        result &= Q(**{f"{first.name}__{'gte' if greater else 'lte'}": value})
    return result


def _past(col: Column, value: Any, backwards: bool) -> Q:
    if value is None:
        # Forward from a NULL: only more NULLs (handled by later columns); backwards: every non-NULL.
        return Q(**{f"{col.name}__isnull": False}) if backwards else Q(pk__in=[])
    greater = col.descending == backwards  # moving to larger values?
    q = Q(**{f"{col.name}__{'gt' if greater else 'lt'}": value})
    if col.nullable and not backwards:
        q |= Q(**{f"{col.name}__isnull": True})
    return q


def encode_cursor(sort: str, spec: Sort, row: UserTask) -> str:
    values = [_plain(getattr(row, col.name)) for col in spec.columns]
    raw = json.dumps([sort, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, spec: Sort, sort: str) -> list[Any] | None:
    """The cursor's values, or None for a cursor that is malformed or made for another sort."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, list) or len(data) != len(spec.columns) + 1 or data[0] != sort:
        return None
    values = []
    for col, value in zip(spec.columns, data[1:], strict=True):
        if value is None and col.nullable:
            values.append(None)
        elif col.name.endswith("_date"):
            try:
                parsed = dt.datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return None
            if parsed.tzinfo is None:
                return None
            values.append(parsed)
        elif isinstance(value, int) and not isinstance(value, bool):
            values.append(value)
        else:
            return None
    return values


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


# -- one task ---------------------------------------------------------------------------------


def find_task(viewer: Viewer, key: int) -> UserTask | None:
    """The task if this viewer may see it; None otherwise (the page answers 404 either way)."""
    task = UserTask.objects.filter(tenant_id=viewer.tenant_id, key=key).first()
    if task is None or not viewer.can_view(task):
        return None
    return task


def task_variables(task: UserTask, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The variables the task's element sees (inner scopes shadow outer ones); only `names` if given."""
    chain = scope_chain(task.element_instance_key)
    if not chain:
        chain = [task.process_instance_key]
    qs = Variable.objects.filter(process_instance_id=task.process_instance_key, scope_key__in=chain)
    if names is not None:
        names = sorted(set(names))
        if not names:
            return {}
        qs = qs.filter(name__in=names)
    return visible_from_rows(chain, qs.values_list("scope_key", "name", "value"))


def scope_chain(element_instance_key: int) -> list[int]:
    """The element instance and its enclosing flow scopes, innermost first, in one query."""
    sql = """
        WITH RECURSIVE chain(key, parent, depth) AS (
            SELECT key, flow_scope_key, 0 FROM engine_elementinstance WHERE key = %s
            UNION ALL
            SELECT e.key, e.flow_scope_key, c.depth + 1
            FROM engine_elementinstance e JOIN chain c ON e.key = c.parent
            WHERE c.depth < 100
        )
        SELECT key FROM chain ORDER BY depth
    """
    with connection.cursor() as cur:
        cur.execute(sql, [element_instance_key])
        return [row[0] for row in cur.fetchall()]


def process_choices(tenant_id: int) -> list[tuple[str, str]]:
    """(process id, name of its latest version) for the tenant's deployed processes."""
    latest: dict[str, tuple[int, str]] = {}
    rows = ProcessDefinition.objects.filter(tenant_id=tenant_id).values_list("bpmn_process_id", "version", "name")
    for process_id, version, name in rows:
        if process_id not in latest or version > latest[process_id][0]:
            latest[process_id] = (version, name)
    return sorted(((pid, name or pid) for pid, (_, name) in latest.items()), key=lambda c: c[1].lower())
