"""The instance list's plans on 50,000 instances: every sort, both ways, first page and a page after a
cursor, is an index range scan in the sort's order (no Sort node, no sequential scan of the instances),
and so are the state, parent and date filters. Plans, not timings (bench/inspector_pages.py times them)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.queries import inspector as q

pytestmark = pytest.mark.django_db

N = 50_000
BASE = 9 * 10**13


@pytest.fixture
def filled(flow):  # type: ignore[no-untyped-def]
    definition = flow.deploy()[0]
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,"
            " start_date, end_date, parent_instance_key, root_instance_key)"
            " SELECT %(b)s + g, %(t)s, %(d)s, 'BK-' || lpad((g %% 9973)::text, 5, '0'),"
            " CASE WHEN g %% 10 = 0 THEN 'ACTIVE' WHEN g %% 20 = 1 THEN 'TERMINATED' ELSE 'COMPLETED' END,"
            " g %% 1000 = 0, now() - make_interval(secs => g),"
            " CASE WHEN g %% 10 = 0 THEN NULL ELSE now() - make_interval(secs => g) + interval '1 minute' END,"
            " CASE WHEN g %% 100 = 55 THEN %(b)s + g - 1 END, %(b)s + g FROM generate_series(1, %(n)s) g",
            {"b": BASE, "t": flow.tenant.pk, "d": definition.pk, "n": N})
        cur.execute(  # the waiting token of each running instance (every tenth)
            "INSERT INTO engine_elementinstance (key, tenant_id, process_instance_id, element_id, element_type,"
            " flow_scope_key, state, start_date, data) SELECT %(b)s * 2 + g, %(t)s, %(b)s + g,"
            " CASE WHEN g %% 1000 = 0 THEN 'Ship' ELSE 'Charge' END, 'SERVICE_TASK', %(b)s + g, 'ACTIVE', now(),"
            " '{}'::jsonb FROM generate_series(10, %(n)s, 10) g",
            {"b": BASE, "t": flow.tenant.pk, "n": N})
        cur.execute("ANALYZE engine_processinstance")
        cur.execute("ANALYZE engine_elementinstance")
    return flow


def page_plan(tenant_ids: list[int], filters: q.InstanceFilters, sort: str, after: str = "") -> tuple[str, q.Page]:
    qs = q.filtered_instances(tenant_ids, filters)
    with CaptureQueriesContext(connection) as ctx:
        page = q.instance_page(qs, sort, after=after)
    [sql] = [c["sql"] for c in ctx.captured_queries]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cur.fetchall()), page


EXPECTED = {
    "key": "engine_processinstance_pkey",
    "process": "pi_tenant_definition_idx",
    "business_key": "pi_tenant_bk_idx",
    "state": "pi_tenant_state_start_idx",
    "started": "pi_tenant_start_idx",
    "ended": "pi_tenant_end_idx",
}


def test_every_sort_is_an_index_range_scan_on_every_page(filled):
    ids = filled.ids
    for sort in [*EXPECTED, *(f"-{c}" for c in EXPECTED)]:  # one fill for all: it is the slow part
        plan, first = page_plan(ids, q.InstanceFilters(), sort)
        deep = first
        for _ in range(3):  # a few pages in: the cursor's row comparison
            _, deep = page_plan(ids, q.InstanceFilters(), sort, deep.next_cursor)
        later, _ = page_plan(ids, q.InstanceFilters(), sort, deep.next_cursor)
        for p in (plan, later):
            assert EXPECTED[sort.lstrip("-")] in p, (sort, p)
            assert "Sort Key" not in p, (sort, p)
            assert "Seq Scan on engine_processinstance" not in p, (sort, p)
        assert len(first.items) == len(deep.items) == q.PAGE_SIZE


def test_filters_use_their_indexes(filled):
    ids = filled.ids
    plan, page = page_plan(ids, q.InstanceFilters(state="ACTIVE"), "-started")
    assert "pi_tenant_state_start_idx" in plan and "Sort Key" not in plan, plan
    assert {i.state for i in page.items} == {"ACTIVE"}
    plan, page = page_plan(ids, q.InstanceFilters(parent=BASE + 54), "-started")
    assert "pi_parent_idx" in plan and "Seq Scan on engine_processinstance" not in plan, plan
    assert [i.key for i in page.items] == [BASE + 55]
    first = q.instance_page(q.filtered_instances(ids, q.InstanceFilters()), "ended")
    plan, _ = page_plan(ids, q.InstanceFilters(ended_from=first.items[0].end_date), "ended")
    assert "pi_tenant_end_idx" in plan and "Seq Scan on engine_processinstance" not in plan, plan
    # Ended instances newest-ended first: the index scan starts past the running ones (NULL end dates).
    plan, page = page_plan(ids, q.InstanceFilters(state="COMPLETED"), "-ended")
    assert "pi_tenant_end_idx" in plan and "end_date IS NOT NULL" in plan and "Sort Key" not in plan, plan
    assert {i.state for i in page.items} == {"COMPLETED"}
    plan, page = page_plan(ids, q.InstanceFilters(incident=True), "-started")
    assert "pi_incident_idx" in plan and "Seq Scan on engine_processinstance" not in plan, plan
    assert all(i.has_incident for i in page.items) and page.items
    plan, page = page_plan(ids, q.InstanceFilters(active_element="Ship"), "-started")
    assert "ei_active_element_idx" in plan and "Seq Scan on engine_elementinstance" not in plan, plan
    assert [i.key % 1000 for i in page.items] == [0] * len(page.items) and page.items
    with connection.cursor() as cur:  # the counts stop at COUNT_LIMIT matches
        sql, params = q.filtered_instances(ids, q.InstanceFilters(state="ACTIVE")).order_by()[
            : q.COUNT_LIMIT + 1].query.sql_with_params()
        cur.execute("EXPLAIN SELECT count(*) FROM (" + sql + ") s", params)
        assert "Limit" in "\n".join(r[0] for r in cur.fetchall())
