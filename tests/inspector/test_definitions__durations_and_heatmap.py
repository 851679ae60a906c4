"""Start-to-end times per definition version (p50/p99, counted with the finished counts) on the Definitions
pages and the Engine dashboard, and the plans that keep them and the live heatmap cheap however many
instances there are: the durations read at most DURATION_SAMPLE index entries per version, the heatmap two
indexes and no table. Plans and bounds, not timings (bench/inspector_pages.py times them)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine.definitions.deploy import Resource, deploy
from engine.queries import inspector_overview as overview
from engine.store import definition_counts
from tests.inspector.conftest import BPMN, Flow

pytestmark = pytest.mark.django_db

BASE = 8 * 10**13


def seed(definition_key: int, tenant_pk: int, rows: list[tuple[str, dt.datetime, dt.datetime | None]],
         base: int = BASE) -> None:
    """Instances (state, start, end) of a definition, written as rows (what the engine leaves behind)."""
    with connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,"
            " start_date, end_date, root_instance_key) VALUES (%s, %s, %s, '', %s, false, %s, %s, %s)",
            [(base + n, tenant_pk, definition_key, state, start, end, base + n)
             for n, (state, start, end) in enumerate(rows)])


def test_p50_and_p99_of_the_instances_completed_in_the_last_day(op_client, flow: Flow, other_flow: Flow):
    now = timezone.now()
    definition = flow.tenant.processdefinition_set.get(version=1)
    recent = [("COMPLETED", now - dt.timedelta(minutes=g, seconds=g), now - dt.timedelta(minutes=g))
              for g in range(1, 101)]  # 1 … 100 seconds from start to end
    old = [("COMPLETED", now - dt.timedelta(days=2, hours=3), now - dt.timedelta(days=2))] * 5  # out of the window
    stopped = [("TERMINATED", now - dt.timedelta(hours=5), now - dt.timedelta(minutes=3))] * 5  # stopped, not run
    running = [("ACTIVE", now - dt.timedelta(hours=9), None)] * 3
    seed(definition.key, flow.tenant.pk, recent + old + stopped + running)
    theirs = other_flow.tenant.processdefinition_set.get()
    seed(theirs.key, other_flow.tenant.pk, [("COMPLETED", now - dt.timedelta(hours=1), now)], base=BASE * 2)

    assert definition_counts.refresh(now, force=True)
    counts = definition.counts
    counts.refresh_from_db()
    assert (counts.completed, counts.terminated, counts.durations) == (105, 5, 100)
    assert counts.duration_p50 == pytest.approx(50.5)  # percentile_cont: between the 50th and 51st
    assert counts.duration_p99 == pytest.approx(99.01)

    listing = op_client.get("/inspector/definitions/").content.decode()
    assert 'data-durations="100">50.5 s / 1 min 39 s' in listing
    page = op_client.get(f"/inspector/definitions/{definition.key}/").content.decode()
    assert 'data-p50="50.5"' in page and 'data-p99="99.01"' in page

    board = op_client.get("/inspector/engine/")
    html = board.content.decode()
    [bar] = board.context["duration_bars"]  # the other tenant's version is not shown here
    assert (bar.key, bar.count, bar.p99_width) == (definition.key, 100, 100.0)
    assert bar.p50_width == pytest.approx(100 * 50.5 / 99.01, abs=0.01)
    assert 'data-p50="50.5" data-p99="99.01" data-count="100"' in html
    assert f'href="/inspector/definitions/{definition.key}/"' in html


def test_a_version_without_completions_in_the_window_shows_none(op_client, flow: Flow):
    definition = flow.tenant.processdefinition_set.get(version=1)
    now = timezone.now()
    seed(definition.key, flow.tenant.pk, [("COMPLETED", now - dt.timedelta(days=3), now - dt.timedelta(days=2))])
    definition_counts.refresh(now, force=True)
    definition.counts.refresh_from_db()
    assert (definition.counts.durations, definition.counts.duration_p50) == (0, None)
    assert 'data-durations="none"' in op_client.get("/inspector/engine/").content.decode()
    assert 'data-durations="0"' in op_client.get("/inspector/definitions/").content.decode()


def test_only_the_latest_completed_count_when_there_are_more(flow: Flow, monkeypatch):
    monkeypatch.setattr(definition_counts, "DURATION_SAMPLE", 10)
    definition = flow.tenant.processdefinition_set.get(version=1)
    now = timezone.now()
    # The newest ten took 1 s each; the 90 before them 1000 s each: the sample is the newest.
    seed(definition.key, flow.tenant.pk,
         [("COMPLETED", now - dt.timedelta(minutes=g, seconds=1 if g <= 10 else 1000), now - dt.timedelta(minutes=g))
          for g in range(1, 101)])
    definition_counts.refresh(now, force=True)
    definition.counts.refresh_from_db()
    assert (definition.counts.durations, definition.counts.duration_p99) == (10, pytest.approx(1.0))


def _plan_nodes(plan: dict) -> list[dict]:
    nodes, stack = [], [plan]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


N = 50_000


def test_the_recount_reads_at_most_the_sample_of_each_version_from_the_index(flow: Flow):
    """50,000 instances completed in the window: the durations read DURATION_SAMPLE entries of
    pi_definition_end_idx backwards (newest first), not the 50,000 rows."""
    definition = flow.tenant.processdefinition_set.get(version=1)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,"
            " start_date, end_date, root_instance_key)"
            " SELECT %(b)s + g, %(t)s, %(d)s, '', CASE WHEN g %% 10 = 0 THEN 'ACTIVE' ELSE 'COMPLETED' END, false,"
            " now() - make_interval(secs => g + g %% 97),"
            " CASE WHEN g %% 10 = 0 THEN NULL ELSE now() - make_interval(secs => g) END, %(b)s + g"
            " FROM generate_series(1, %(n)s) g", {"b": BASE, "t": flow.tenant.pk, "d": definition.key, "n": N})
        cur.execute("ANALYZE engine_processinstance")
        now = timezone.now()
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + definition_counts.RECOUNT,
                    {"now": now, "since": now - definition_counts.DURATION_WINDOW,
                     "sample": definition_counts.DURATION_SAMPLE})
        raw = cur.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [n for n in _plan_nodes(plan) if n.get("Index Name") == "pi_definition_end_idx"
             and n.get("Scan Direction") == "Backward"]
    assert scans, json.dumps(plan, indent=1)
    for scan in scans:
        assert scan["Node Type"] == "Index Only Scan", scan
        assert scan["Actual Rows"] <= definition_counts.DURATION_SAMPLE, scan  # per loop: one version
    definition.counts.refresh_from_db()
    assert definition.counts.durations == definition_counts.DURATION_SAMPLE
    assert definition.counts.completed == N - N // 10


def _running(cur, definition_key: int, tenant_pk: int, base: int, n: int) -> None:  # type: ignore[no-untyped-def]
    """n instances, every tenth running with a token at Charge (every thousandth at Ship)."""
    cur.execute(
        "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state,"
        " has_incident, start_date, end_date, root_instance_key)"
        " SELECT %(b)s + g, %(t)s, %(d)s, '', CASE WHEN g %% 10 = 0 THEN 'ACTIVE' ELSE 'COMPLETED' END,"
        " false, now(), CASE WHEN g %% 10 = 0 THEN NULL ELSE now() END, %(b)s + g"
        " FROM generate_series(1, %(n)s) g", {"b": base, "t": tenant_pk, "d": definition_key, "n": n})
    cur.execute(
        "INSERT INTO engine_elementinstance (key, tenant_id, process_instance_id, element_id, element_type,"
        " flow_scope_key, state, start_date, data)"
        " SELECT %(b)s * 3 + g * 2 + s, %(t)s, %(b)s + g, CASE WHEN s = 0 THEN 'inspect-order'"
        " WHEN g %% 1000 = 0 THEN 'Ship' ELSE 'Charge' END, CASE WHEN s = 0 THEN 'PROCESS'"
        " ELSE 'SERVICE_TASK' END, CASE WHEN s = 1 THEN %(b)s + g END, 'ACTIVE', now(), '{}'::jsonb"
        " FROM generate_series(10, %(n)s, 10) g, generate_series(0, 1) s", {"b": base, "t": tenant_pk, "n": n})
    cur.execute("VACUUM ANALYZE engine_processinstance")  # the visibility map autovacuum keeps
    cur.execute("VACUUM ANALYZE engine_elementinstance")


def _heatmap_plans(flow: Flow, key: int) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        heat = overview.definition_heatmap(flow.ids, key)
    plans = []
    with connection.cursor() as cur:
        for sql in [q["sql"] for q in ctx.captured_queries if "FROM \"engine_elementinstance\"" in q["sql"]]:
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
            plans.append("\n".join(r[0] for r in cur.fetchall()))
    return heat["elements"], plans


@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction
def test_the_heatmap_counts_from_indexes_without_reading_a_row(flow: Flow):
    """5,000 running instances of v1: its tokens are counted from ei_active_element_idx alone (no other running
    definition has its element ids). Then 500 running of v2 at the same ids: v1's tokens are matched to its
    running instances from pi_definition_end_idx; index-only both times, no sequential scan, no row read."""
    v1 = flow.tenant.processdefinition_set.get(version=1)
    with connection.cursor() as cur:
        _running(cur, v1.key, flow.tenant.pk, BASE, N)
    elements, [plan] = _heatmap_plans(flow, v1.key)
    assert elements["Charge"]["active"] == N // 10 - N // 1000 and elements["Ship"]["active"] == N // 1000
    assert "Index Only Scan using ei_active_element_idx" in plan and "engine_processinstance" not in plan, plan
    assert "Seq Scan" not in plan and "Heap Fetches: 0" in plan, plan

    changed = (BPMN / "inspect-order.bpmn").read_bytes().replace(b'name="Charge card"', b'name="Charge the card"')
    [v2] = deploy(flow.tenant, [Resource("inspect-order.bpmn", changed)], flow.now())[1]
    assert v2.version == 2
    with connection.cursor() as cur:
        _running(cur, v2.key, flow.tenant.pk, BASE * 2, N // 10)
    again, [plan] = _heatmap_plans(flow, v1.key)
    assert again == elements  # v2's tokens at the same ids are not v1's
    assert "Index Only Scan using ei_active_element_idx" in plan, plan
    assert "Index Only Scan using pi_definition_end_idx" in plan, plan
    assert "Seq Scan" not in plan and plan.count("Heap Fetches: 0") == 2, plan
    assert _heatmap_plans(flow, v2.key)[0]["Charge"]["active"] == N // 100 - N // 10000
