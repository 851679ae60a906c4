from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.models import ProcessInstance

pytestmark = pytest.mark.django_db


def keys_in(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [i.key for i in response.context["page"].items]


@pytest.fixture
def instances(flow):  # type: ignore[no-untyped-def]
    """Three orders: gold (incident), silver (waiting at Ship), bronze (cancelled)."""
    gold = flow.start("ORD-1", tier="gold", amount=100)
    silver = flow.start("ORD-2", tier="silver", amount=20)
    bronze = flow.start("XYZ-3", tier="bronze", amount={"net": 5})
    flow.fail_to_incident(gold)
    flow.complete_charge(silver)
    from engine.actions.instances import cancel_instance
    from engine.runtime.loop import drain

    cancel_instance(flow.tenant, bronze, "op", flow.now())
    drain()
    return {"gold": gold, "silver": silver, "bronze": bronze}


def test_filters(op_client, instances, flow):
    gold, silver, bronze = instances["gold"], instances["silver"], instances["bronze"]

    def found(**params: str) -> set[int]:
        response = op_client.get("/inspector/", params)
        assert response.status_code == 200, response.context["form"].errors
        return set(keys_in(response))

    assert found() == {gold, silver, bronze}
    assert found(state="ACTIVE") == {gold, silver}
    assert found(state="TERMINATED") == {bronze}
    assert found(incident="yes") == {gold}
    assert found(incident="no") == {silver, bronze}
    assert found(business_key="ORD") == {gold, silver}
    assert found(key=str(silver)) == {silver}
    assert found(var_name="tier", var_value='"gold"') == {gold}
    assert found(var_name="amount", var_value="20") == {silver}
    assert found(var_name="amount", var_value='{"net": 5}') == {bronze}
    assert found(var_name="amount", var_value='"20"') == set()  # a string is not the number
    assert found(process="inspect-order", version="1") == {gold, silver, bronze}
    assert found(process="inspect-order", version="2") == set()
    assert found(process="nope") == set()
    today = flow.clock.date()
    assert found(started_from=today.isoformat(), started_to=today.isoformat()) == {gold, silver, bronze}
    assert found(started_from=(today + timedelta(days=1)).isoformat()) == set()
    assert found(started_to=(today - timedelta(days=1)).isoformat()) == set()


def test_counts_follow_the_filters(op_client, instances, flow):
    counts = op_client.get("/inspector/", {"business_key": "ORD"}).context["counts"]
    assert counts == {"total": 2, "active": 2, "completed": 0, "terminated": 0, "with_incident": 1, "capped": False,
                      "uncounted": False}
    counts = op_client.get("/inspector/").context["counts"]
    assert (counts["total"], counts["terminated"]) == (3, 1)
    # Beyond the limit the list says "more than" instead of counting a million rows.
    from engine.queries import inspector as q

    capped = q.instance_counts(q.filtered_instances(flow.ids, q.InstanceFilters()), limit=2)
    assert capped["capped"] and capped["total"] == 2


def test_a_count_over_its_budget_gives_up_and_the_rest_of_the_request_is_unaffected(flow, op_client):
    from django.db import connection
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    from engine.queries import inspector as q

    flow.start("SLOW")
    slow = q.filtered_instances(flow.ids, q.InstanceFilters()).filter(
        RawSQL("pg_sleep(%s) IS NOT NULL", [q.COUNT_BUDGET_MS / 1000 * 3], output_field=BooleanField()))
    assert q.instance_counts(slow)["uncounted"] is True
    assert q.instance_counts(q.filtered_instances(flow.ids, q.InstanceFilters()))["total"] == 1
    with connection.cursor() as cur:  # the budget was for the count only
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] == "0"


def test_bad_filters_are_form_errors(op_client, instances):
    response = op_client.get("/inspector/", {"var_name": "tier", "var_value": "gold"})  # not JSON
    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()
    assert keys_in(response) == []
    response = op_client.get("/inspector/", {"key": "abc", "version": "-1", "started_from": "yesterday"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"key", "version", "started_from"}
    assert op_client.get("/inspector/", {"after": "garbage!!", "sort": "oldest"}).status_code == 200


def test_keyset_pagination_walks_every_instance_once_both_ways(op_client, flow):
    keys = [flow.start(f"P-{n}") for n in range(7)]
    # Two share a start date: the key breaks the tie.
    ProcessInstance.objects.filter(key=keys[3]).update(
        start_date=ProcessInstance.objects.get(key=keys[4]).start_date)
    from engine.queries import inspector as q

    qs = q.filtered_instances([flow.tenant.pk], q.InstanceFilters())
    for sort in ("newest", "oldest"):
        seen, cursor, pages = [], "", []
        while True:
            page = q.instance_page(qs, sort, after=cursor, size=3)
            pages.append(page)
            seen += [i.key for i in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(keys) and len(seen) == len(keys)
        expected = sorted(ProcessInstance.objects.filter(key__in=keys), key=lambda i: (i.start_date, i.key))
        if sort == "newest":
            expected.reverse()
        assert seen == [i.key for i in expected]
        back = q.instance_page(qs, sort, before=pages[-1].prev_cursor, size=3)
        assert [i.key for i in back.items] == [i.key for i in pages[-2].items]
    response = op_client.get("/inspector/", {"sort": "oldest"})
    assert response.context["next_url"] == "" and len(keys_in(response)) == 7


def test_the_list_costs_the_same_queries_for_3_or_30_instances(op_client, flow):
    for n in range(3):
        flow.start(f"Q-{n}", tier="gold")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert op_client.get("/inspector/", {"var_name": "tier", "var_value": '"gold"'}).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for n in range(27):
        flow.start(f"R-{n}", tier="gold")
    assert queries() == few
    # session, user, role, definitions, saved filters, variable keys, page, counts (in a savepoint with its budget)
    assert few <= 14
