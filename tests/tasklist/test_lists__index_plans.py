"""The open-task sort indexes in the plans, on 40,000 open tasks: All open and Offered by priority or due date
walk task_open_priority_idx / task_open_due_idx and stop after a page (no Sort of the whole list), also after
a cursor. Plans, not timings (bench/tasklist_pages.py times the pages with 1,000,000 open tasks)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.queries.tasks import Viewer, page, task_list
from flowsync.models import Tenant

pytestmark = pytest.mark.django_db

N = 40_000


@pytest.fixture
def tenant_with_tasks() -> Tenant:
    tenant = Tenant.objects.create(tenant_id="plans", name="plans")
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO engine_usertask (key, tenant_id, process_instance_key, element_instance_key, element_id,"
            " process_definition_key, bpmn_process_id, process_definition_version, process_name, business_key, name,"
            " state, assignee, candidate_users, candidate_groups, due_date, follow_up_date, priority, form_key,"
            " form_id, external_form_reference, custom_headers, creation_date, completion_date, completed_by)"
            " SELECT 5 * 10^12 + g, %(t)s, g, g, 'T', 1, 'p', 1, 'P', 'BK-' || g, 'Task', 'CREATED',"
            " CASE WHEN g %% 10 = 0 THEN 'someone' ELSE '' END, '[]', '[\"team\"]',"
            " CASE WHEN g %% 5 = 0 THEN NULL ELSE now() + (g %% 30) * interval '1 day' END, NULL, g %% 101,"
            " '', '', '', '{}', now() - g * interval '1 minute', NULL, '' FROM generate_series(1, %(n)s) g",
            {"t": tenant.pk, "n": N})
        cur.execute(
            "INSERT INTO engine_usertaskcandidate (task_id, tenant_id, kind, name)"
            " SELECT 5 * 10^12 + g, %(t)s, 'group', 'team' FROM generate_series(1, %(n)s) g", {"t": tenant.pk, "n": N})
        cur.execute("ANALYZE engine_usertask")
        cur.execute("ANALYZE engine_usertaskcandidate")
    return tenant


def plan_of(qs, sort: str, after: str = "") -> tuple[str, object]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        result = page(qs, sort, after=after)
    [sql] = [c["sql"] for c in ctx.captured_queries if "engine_usertask" in c["sql"]]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return "\n".join(r[0] for r in cur.fetchall()), result


@pytest.mark.parametrize(("list_name", "sort", "index"), [
    ("all", "priority", "task_open_priority_idx"), ("all", "due", "task_open_due_idx"),
    ("offered", "priority", "task_open_priority_idx"), ("offered", "due", "task_open_due_idx"),
])
def test_sorted_lists_walk_the_open_task_indexes(tenant_with_tasks, list_name, sort, index):
    viewer = Viewer(tenant_id=tenant_with_tasks.pk, username="ann", groups=("team",), can_see_all=True)
    qs = task_list(viewer, list_name)
    plan, first = plan_of(qs, sort)
    later, second = plan_of(qs, sort, first.next_cursor)  # type: ignore[attr-defined]
    for p in (plan, later):
        assert index in p, p
        assert "Sort Key" not in p and "Seq Scan on engine_usertask " not in p, p
    assert first.items and second.items  # type: ignore[attr-defined]
