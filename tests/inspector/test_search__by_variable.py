"""Search by variable: =, >, <, contains (tenant-scoped), and the query plan on many variables uses the
variable search indexes (engine/migrations/0008) — no sequential scan over engine_variable."""

from __future__ import annotations

import importlib
import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from engine.queries.inspector import InstanceFilters, filtered_instances
from tests.inspector.test_instances__list import instances  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def found(op_client, **params: str) -> set[int]:  # type: ignore[no-untyped-def]
    response = op_client.get("/inspector/", params)
    assert response.status_code == 200, response.context["form"].errors
    return {i.key for i in response.context["page"].items}


def test_comparisons(op_client, instances, other_flow):  # noqa: F811
    gold, silver, bronze = instances["gold"], instances["silver"], instances["bronze"]
    other_flow.start("ORD-X", tier="golden", amount=1000)  # another tenant's: never found
    assert found(op_client, var_name="amount", var_op=">", var_value="50") == {gold}
    assert found(op_client, var_name="amount", var_op="<", var_value="50") == {silver}
    assert found(op_client, var_name="amount", var_op=">", var_value="20.5") == {gold}
    assert found(op_client, var_name="tier", var_op="contains", var_value="OL") == {gold}
    assert found(op_client, var_name="tier", var_op="contains", var_value='"il"') == {silver}
    assert found(op_client, var_name="tier", var_op="contains", var_value="%") == set()  # a literal percent sign
    assert found(op_client, var_name="tier", var_op="=", var_value='"bronze"') == {bronze}
    # Filters stay in the URL: the next page link carries them.
    html = op_client.get("/inspector/", {"var_name": "amount", "var_op": ">", "var_value": "1"}).content.decode()
    assert '<option value="&gt;" selected>' in html


@pytest.mark.parametrize(("op", "value", "error"), [
    (">", '"ten"', "compare numbers"), ("<", "true", "compare numbers"), ("=", "gold", "Not valid JSON"),
    ("between", "1", "Select a valid choice"),
])
def test_bad_comparisons_are_form_errors(op_client, instances, op, value, error):  # noqa: F811
    response = op_client.get("/inspector/", {"var_name": "amount", "var_op": op, "var_value": value})
    assert response.status_code == 400
    assert error in response.content.decode()


def _fill(tenant_id: int, definition_id: int, instances_n: int, per_instance: int) -> None:
    """Many instances and variables in a few set-based INSERTs (the engine would take minutes)."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO engine_processinstance (key, tenant_id, definition_id, business_key, state, has_incident,"
            " start_date, root_instance_key) SELECT 9000000000000 + g, %s, %s, '', 'ACTIVE', false, now(),"
            " 9000000000000 + g FROM generate_series(1, %s) g", [tenant_id, definition_id, instances_n])
        cur.execute(
            "INSERT INTO engine_variable (key, tenant_id, process_instance_id, scope_key, name, value)"
            " SELECT 8000000000000 + g * 100 + v, %s, 9000000000000 + g, 9000000000000 + g, 'v' || v,"
            " CASE WHEN v %% 3 = 0 THEN to_jsonb(g) WHEN v %% 3 = 1 THEN to_jsonb('customer-' || g)"
            " ELSE jsonb_build_object('n', g) END"
            " FROM generate_series(1, %s) g, generate_series(1, %s) v", [tenant_id, instances_n, per_instance])
        cur.execute("ANALYZE engine_variable")
        cur.execute("ANALYZE engine_processinstance")
        # What autovacuum does to a GIN index after bulk inserts (not possible in a test's transaction):
        # merge its pending list, whose size the planner otherwise counts against the trigram index.
        cur.execute("SELECT gin_clean_pending_list('var_search_trgm_idx')")


def test_the_query_plan_uses_the_variable_indexes(flow):
    definition = flow.deploy()[0]
    _fill(flow.tenant.pk, definition.pk, 40_000, 6)  # 240 000 variables
    for name, op, value, index in [
        ("v3", "=", 4242, "var_search_eq_idx"),
        ("v1", "=", "customer-4242", "var_search_eq_idx"),
        ("v3", ">", 39990, "var_search_num_idx"),
        ("v1", "contains", "mer-4242", "var_search_trgm_idx"),  # engine/migrations/0019 (pg_trgm)
    ]:
        # A rare value: its instance keys are read first (through the index), then the page by keys.
        with CaptureQueriesContext(connection) as ctx:
            qs = filtered_instances(flow.ids, InstanceFilters(var_name=name, var_op=op, var_value=value))
        [lookup] = [c["sql"] for c in ctx.captured_queries]
        sql, params = qs.order_by("-start_date", "-key")[:26].query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute("EXPLAIN " + lookup)
            plan = "\n".join(row[0] for row in cur.fetchall())
            cur.execute("EXPLAIN " + sql, params)
            page_plan = "\n".join(row[0] for row in cur.fetchall())
        assert index in plan, (op, plan)
        assert "Seq Scan on engine_variable" not in plan, (op, plan)
        assert "engine_processinstance_pkey" in page_plan and "engine_variable" not in page_plan, (op, page_plan)
        assert list(qs), op


def test_contains_on_a_common_name_uses_the_trigram_index_and_falls_back_without_pg_trgm(flow, caplog):
    """Every instance has `v1` ("customer-N"): the trigram index finds the few values containing the text
    instead of filtering every value of the name. Without pg_trgm (the migration could not install it) the
    search still works, through (tenant, name)."""
    definition = flow.deploy()[0]
    _fill(flow.tenant.pk, definition.pk, 40_000, 3)
    lookup = ("SELECT process_instance_id FROM engine_variable WHERE tenant_id = ANY(%s) AND name = 'v1' AND "
              "jsonb_typeof(value) = 'string' AND (value #>> '{}') ILIKE '%%mer-3999%%'")

    def plan() -> str:
        with connection.cursor() as cur:
            cur.execute("EXPLAIN " + lookup, [[flow.tenant.pk]])
            return "\n".join(row[0] for row in cur.fetchall())

    expected = {9000000000000 + g for g in range(1, 40_001) if "mer-3999" in f"customer-{g}"}
    assert "var_search_trgm_idx" in plan() and "Seq Scan" not in plan(), plan()
    assert found_keys(flow, "mer-3999") == expected

    # As a role that may not install extensions, on a database without pg_trgm: the migration logs and
    # leaves the index out (the extension's removal and the role are undone with the test's transaction).
    trgm = importlib.import_module("engine.migrations.0019_variable_contains_trgm_index")
    with connection.cursor() as cur:
        cur.execute("DROP EXTENSION pg_trgm CASCADE")
        cur.execute("CREATE ROLE flowsync_no_create")
        cur.execute("SET ROLE flowsync_no_create")
    point = transaction.savepoint()
    with caplog.at_level(logging.WARNING), connection.schema_editor(atomic=False) as editor:
        trgm.create(None, editor)
    transaction.savepoint_rollback(point)
    with connection.cursor() as cur:
        cur.execute("RESET ROLE")
    assert "pg_trgm is not available" in caplog.text
    assert "var_search_trgm_idx" not in plan() and "var_search_str_idx" in plan(), plan()
    assert found_keys(flow, "mer-3999") == expected


def found_keys(flow, text: str) -> set[int]:  # type: ignore[no-untyped-def]
    qs = filtered_instances(flow.ids, InstanceFilters(var_name="v1", var_op="contains", var_value=text))
    return set(qs.values_list("key", flat=True))


def test_a_common_value_alone_is_not_counted_again(flow, monkeypatch):
    """The variable search read more instances than the count would stop at: the list says "more than"
    without a count statement (capping it read every match: 0.5-0.9 s at 10 M variables). With another
    filter the count runs, since the other filter may leave fewer."""
    from engine.queries import inspector as q

    definition = flow.deploy()[0]
    _fill(flow.tenant.pk, definition.pk, 30, 3)
    monkeypatch.setattr(q, "FEW_MATCHES", 5)
    common = q.filter_instances(flow.ids, q.InstanceFilters(var_name="v3", var_op=">", var_value=0))  # all
    assert common.at_least == 6
    with CaptureQueriesContext(connection) as ctx:
        counts = q.instance_counts(common.for_count, limit=4, at_least=common.at_least)
    assert (counts["capped"], counts["total"], len(ctx.captured_queries)) == (True, 4, 0)
    assert q.instance_counts(common.for_count, limit=100, at_least=common.at_least)["total"] == 30  # counted
    narrowed = q.filter_instances(flow.ids, q.InstanceFilters(var_name="v3", var_op=">", var_value=0,
                                                              business_key="none"))
    assert narrowed.at_least == 0
    assert q.instance_counts(narrowed.for_count, limit=4, at_least=narrowed.at_least)["total"] == 0
    assert q.filter_instances(flow.ids, q.InstanceFilters(var_name="v3", var_op="=", var_value=7)).at_least == 1


def test_a_common_value_pages_by_asking_each_instance_and_counts_by_gathering_the_matches(flow, monkeypatch):
    """A common value's page walks the list's index and probes each instance's variables (no plan that
    gathers every match before the first row); its count gathers the matches. Both find the same instances
    as the rare-value path (keys read first)."""
    from engine.queries import inspector as q

    definition = flow.deploy()[0]
    _fill(flow.tenant.pk, definition.pk, 40, 3)
    filters = q.InstanceFilters(var_name="v1", var_op="contains", var_value="customer-1")  # 1, 10-19, 100…
    rare = q.filter_instances(flow.ids, filters)
    monkeypatch.setattr(q, "FEW_MATCHES", 3)
    common = q.filter_instances(flow.ids, filters)
    expected = {9000000000000 + g for g in range(1, 41) if "customer-1" in f"customer-{g}"}
    assert set(rare.qs.values_list("key", flat=True)) == expected
    assert set(common.qs.values_list("key", flat=True)) == expected
    assert [i.key for i in q.instance_page(common.qs, "-started", size=5).items] == [
        i.key for i in q.instance_page(rare.qs, "-started", size=5).items]
    assert q.instance_counts(common.for_count)["total"] == len(expected)
    page_sql = str(common.qs.order_by("-start_date", "-key")[:26].query)
    count_sql = str(common.for_count.query)
    assert "EXISTS (SELECT 1 FROM engine_variable WHERE process_instance_id =" in page_sql and "OFFSET 0" in page_sql
    assert "IN (SELECT process_instance_id FROM engine_variable" in count_sql
