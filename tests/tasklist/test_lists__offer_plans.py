"""The Offered list at scale, as plans and counts on 40,000 open tasks spread over 20 groups (the viewer's one
group is 5% of them): a filtered offer walks an index and probes candidates by task (never fetches the whole
offer by key), the text search finds a rare term through task_open_bkey_idx and task_open_text_trgm_idx and
walks the order for a common one, a small process is found through task_open_process_idx, and the tab's
count stops after cap + 1 tasks, each counted once. Plans and counts, not timings (bench/tasklist_pages.py
times the pages with 1,000,000 open tasks)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine.queries.tasks import TaskFilters, Viewer, apply_filters, counts, page, task_list
from flowsync.models import Tenant

pytestmark = pytest.mark.django_db

N = 40_000
BASE = 6 * 10**12
COLUMNS = ("key, tenant_id, process_instance_key, element_instance_key, element_id, process_definition_key,"
           " bpmn_process_id, process_definition_version, process_name, business_key, name, state, assignee,"
           " candidate_users, candidate_groups, due_date, follow_up_date, priority, form_key, form_id,"
           " external_form_reference, custom_headers, creation_date, completion_date, completed_by")


@pytest.fixture
def offer() -> Tenant:
    """Task g: group team-(g % 20), every tenth assigned, due dates behind and ahead, priorities 0-100, business
    key INV- and 8 hex digits of md5(g)."""
    tenant = Tenant.objects.create(tenant_id="offer", name="offer")
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO engine_usertask ({COLUMNS})"
            " SELECT %(base)s + g, %(t)s, g, g, 'T', 1, 'claims', 1, 'Claims',"
            " 'INV-' || upper(substr(md5(g::text), 1, 8)),"
            " 'Approve item ' || (g %% 37), 'CREATED', CASE WHEN g %% 10 = 0 THEN 'someone' ELSE '' END, '[]',"
            " jsonb_build_array('team-' || (g %% 20)), now() + ((g %% 60) - 30) * interval '1 day', NULL,"
            " (g * 37) %% 101, '', '', '', '{}', now() - g * interval '1 minute', NULL, ''"
            " FROM generate_series(1, %(n)s) g", {"t": tenant.pk, "n": N, "base": BASE})
        cur.execute(
            "INSERT INTO engine_usertaskcandidate (task_id, tenant_id, kind, name)"
            " SELECT %(base)s + g, %(t)s, 'group', 'team-' || (g %% 20) FROM generate_series(1, %(n)s) g",
            {"t": tenant.pk, "n": N, "base": BASE})
        cur.execute("ANALYZE engine_usertask")  # also fills task_text_stats (engine/migrations/0027)
        cur.execute("ANALYZE engine_usertaskcandidate")
    return tenant


def explain(qs, sort: str = "created") -> tuple[str, list]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        result = page(qs, sort)
    [sql] = [c["sql"] for c in ctx.captured_queries if "engine_usertask" in c["sql"]]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql)
        return "\n".join(r[0] for r in cur.fetchall()), result.items


def offered(tenant: Tenant, sort: str = "created", **filters: str) -> tuple[str, list]:
    viewer = Viewer(tenant_id=tenant.pk, username="ann", groups=("team-3",))
    qs = apply_filters(task_list(viewer, "offered"), TaskFilters(**filters), timezone.now(), dt.UTC)
    return explain(qs, sort)


@pytest.mark.parametrize(("sort", "filters", "indexes"), [
    ("created", {"due": "overdue", "priority": "high"}, ("task_assignee_idx", "task_state_idx")),
    ("due", {"priority": "critical"}, ("task_open_due_idx",)),
    ("priority", {"due": "overdue"}, ("task_open_priority_idx",)),
])
def test_a_filtered_offer_walks_an_index_and_probes_candidates_by_task(offer, sort, filters, indexes):
    plan, items = offered(offer, sort, **filters)
    assert any(index in plan for index in indexes), plan
    assert "Semi Join" in plan and "engine_usertaskcandidate_task_id" in plan, plan
    # Ordered by the walk (at most an incremental sort of equal creation dates), never a sort of the offer.
    assert "ANY" not in plan and not re.search(r"(?<!Incremental) Sort  \(", plan), plan
    assert len(items) == 25 and all(t.assignee == "" and t.key % 20 == 3 for t in items)


def test_text_search_uses_the_trigram_index_for_a_rare_term_and_walks_the_order_for_a_common_one(offer, caplog):
    term = "inv-" + hashlib.md5(b"1243").hexdigest()[:5]  # task 1243's key (offered to ann) and few others
    plan, items = offered(offer, q=term)
    assert "task_open_bkey_idx" in plan and "task_open_text_trgm_idx" in plan and "Seq Scan" not in plan, plan
    expected = sorted((BASE + g for g in range(1, N + 1) if g % 20 == 3 and g % 10
                       and hashlib.md5(str(g).encode()).hexdigest().startswith(term[4:])), reverse=True)
    assert BASE + 1243 in expected and [t.key for t in items] == expected

    plan, items = offered(offer, q="approve")  # every task: the list's own order finds a page at once
    assert "task_open_text_trgm_idx" not in plan and re.search(r"task_(assignee|state)_idx", plan), plan
    assert len(items) == 25

    plan, items = offered(offer, q="it")  # too short for a trigram: names by prefix (none starts with "it")
    assert "Seq Scan" not in plan, plan
    assert items == []

    # Without pg_trgm (a role that may not install it, on a database without it) the migration logs and
    # leaves the index out; the search still answers, filtering (undone with the test's transaction).
    trgm = importlib.import_module("engine.migrations.0029_task_text_search_indexes")
    with connection.cursor() as cur:
        cur.execute("DROP EXTENSION pg_trgm CASCADE")
        cur.execute("DROP STATISTICS task_text_stats")
        cur.execute("CREATE ROLE flowsync_no_trgm")
        cur.execute("GRANT CREATE ON SCHEMA public TO flowsync_no_trgm")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks: the table can change owner
        cur.execute("ALTER TABLE engine_usertask OWNER TO flowsync_no_trgm")  # as whoever migrated would own it
        cur.execute("SET ROLE flowsync_no_trgm")
    point = transaction.savepoint()
    with caplog.at_level(logging.WARNING), connection.schema_editor(atomic=False) as editor:
        trgm.create(None, editor)
    transaction.savepoint_rollback(point)
    with connection.cursor() as cur:
        cur.execute("RESET ROLE")
    assert "pg_trgm is not available" in caplog.text
    plan, items = offered(offer, q=term)
    assert "task_open_text_trgm_idx" not in plan, plan
    assert [t.key for t in items] == expected


def test_the_offered_count_stops_after_cap_tasks_and_counts_each_once(offer):
    viewer = Viewer(tenant_id=offer.pk, username="ann", groups=("team-3",))
    with CaptureQueriesContext(connection) as ctx:
        assert counts(viewer, cap=100)["offered"] == 101  # 1,800 offered: "100+"
    [sql] = [c["sql"] for c in ctx.captured_queries]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
    probes = re.search(r"engine_usertask_pkey on engine_usertask t \(actual rows=\d+ loops=(\d+)\)", plan)
    assert probes and int(probes.group(1)) <= 2 * 101, plan  # one probe per candidate row read, not the offer
    assert "Hash" not in plan and "Seq Scan" not in plan, plan

    # A task offered to ann by name and through two of her groups counts once; assigned ones not at all.
    small = Tenant.objects.create(tenant_id="small", name="small")
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO engine_usertask ({COLUMNS})"
                    " SELECT 7 * 10^12 + g, %s, g, g, 'T', 1, 'p', 1, 'P', '', 'T', 'CREATED',"
                    " CASE WHEN g = 4 THEN 'bob' ELSE '' END, '[]', '[]', NULL, NULL, 50, '', '', '', '{}', now(),"
                    " NULL, '' FROM generate_series(1, 4) g", [small.pk])
        cur.execute("INSERT INTO engine_usertaskcandidate (task_id, tenant_id, kind, name) VALUES"
                    " (7 * 10^12 + 1, %(t)s, 'user', 'ann'), (7 * 10^12 + 1, %(t)s, 'group', 'a'),"
                    " (7 * 10^12 + 1, %(t)s, 'group', 'b'), (7 * 10^12 + 2, %(t)s, 'group', 'b'),"
                    " (7 * 10^12 + 3, %(t)s, 'group', 'c'), (7 * 10^12 + 4, %(t)s, 'group', 'a')", {"t": small.pk})
    viewer = Viewer(tenant_id=small.pk, username="ann", groups=("a", "b"))
    listed = page(task_list(viewer, "offered"), "created").items
    assert [t.key - 7 * 10**12 for t in listed] == [2, 1]  # same creation date: newest key first
    assert counts(viewer)["offered"] == 2 and counts(viewer, cap=1)["offered"] == 2
    assert counts(Viewer(tenant_id=small.pk, username="ann"))["offered"] == 1


def test_a_small_process_is_found_through_its_index_not_filtered_out_of_the_open_tasks(offer):
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO engine_usertask ({COLUMNS})"
                    " SELECT 8 * 10^12 + g, %s, g, g, 'T', 1, 'rare', 1, 'Rare', '', 'T', 'CREATED', '', '[]',"
                    " '[\"team-3\"]', NULL, NULL, 50, '', '', '', '{}', now() - g * interval '1 hour', NULL, ''"
                    " FROM generate_series(1, 30) g", [offer.pk])
        cur.execute("INSERT INTO engine_usertaskcandidate (task_id, tenant_id, kind, name)"
                    " SELECT 8 * 10^12 + g, %s, 'group', 'team-3' FROM generate_series(1, 30) g", [offer.pk])
        cur.execute("ANALYZE engine_usertask")
    for sort in ("created", "due", "priority"):
        plan, items = offered(offer, sort, process="rare")
        assert "task_open_process_idx" in plan, plan
        assert len(items) == 25 and {t.bpmn_process_id for t in items} == {"rare"}
