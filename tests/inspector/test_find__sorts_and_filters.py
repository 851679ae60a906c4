"""Finding instances: every column sorts both ways with keyset pages that visit each instance once; the
filters by end date, incident type / message / element, parent instance and tenant; bad input is a form
error. Real engine, real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.actions.instances import cancel_instance
from engine.models import ProcessInstance
from engine.queries import inspector as q
from engine.runtime.loop import drain
from flowsync.models import Membership
from tests.inspector.conftest import Flow, make_user

pytestmark = pytest.mark.django_db


def keys_in(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [i.key for i in response.context["page"].items]


@pytest.fixture
def many(flow: Flow) -> list[int]:
    """Nine instances over two versions, some ended, with ties on every sortable column."""
    keys = [flow.start(f"BK-{n % 4}", tier="gold") for n in range(5)]
    flow.deploy()  # version 2 of the same process
    keys += [flow.start(f"BK-{n % 3}") for n in range(4)]
    for key in keys[1::3]:
        cancel_instance(flow.tenant, key, "op", flow.now())
    drain()
    # Ties: two share a start date, two an end date.
    same_start = ProcessInstance.objects.get(key=keys[2]).start_date
    ProcessInstance.objects.filter(key=keys[6]).update(start_date=same_start)
    same_end = ProcessInstance.objects.get(key=keys[1]).end_date
    ProcessInstance.objects.filter(key=keys[4]).update(end_date=same_end, state="TERMINATED")
    return keys


@pytest.mark.parametrize("sort", sorted(q.SORTS))
def test_every_sort_pages_through_every_instance_once_both_ways(flow, many, sort):
    qs = q.filtered_instances(flow.ids, q.InstanceFilters())
    columns = q.SORT_COLUMNS[q.normalize_sort(sort).lstrip("-")].columns
    descending = q.normalize_sort(sort).startswith("-")
    # What PostgreSQL itself orders (NULL end dates last ascending, first descending) is the truth.
    from django.db.models import F

    expected = [i.key for i in qs.order_by(*[
        F(c).desc(nulls_first=True) if descending else F(c).asc(nulls_last=True) for c in columns])]
    pages, seen, cursor = [], [], ""
    while True:
        page = q.instance_page(qs, sort, after=cursor, size=2)
        pages.append(page)
        seen += [i.key for i in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == len(many)
    # Previous from the last page gives the page before it, and so on back to the first.
    for n in range(len(pages) - 1, 0, -1):
        back = q.instance_page(qs, sort, before=pages[n].prev_cursor, size=2)
        assert [i.key for i in back.items] == [i.key for i in pages[n - 1].items]
    assert q.instance_page(qs, sort, before=pages[1].prev_cursor, size=2).prev_cursor == ""


def test_a_cursor_of_another_sort_or_forged_values_starts_over(flow, many):
    qs = q.filtered_instances(flow.ids, q.InstanceFilters())
    first = q.instance_page(qs, "business_key", size=2)
    assert [i.key for i in q.instance_page(qs, "-ended", after=first.next_cursor, size=2).items] == \
        [i.key for i in q.instance_page(qs, "-ended", size=2).items]
    forged = q._encode(["started", "not a date", 5])
    assert q.instance_page(qs, "started", after=forged, size=2).items == q.instance_page(qs, "started", size=2).items
    assert q._cursor_values(q._encode(["business_key", None, 5]), "business_key",
                            q.SORT_COLUMNS["business_key"]) is None  # only an end date may be NULL


def test_column_headers_sort_and_a_second_click_reverses(op_client, many):
    response = op_client.get("/inspector/", {"state": "ACTIVE"})
    links = response.context["sort_links"]
    assert set(links) == set(q.SORT_COLUMNS)
    html = response.content.decode()
    assert 'aria-sort="descending" data-sort-column="started"' in html  # the default: newest first
    by_bk = op_client.get("/inspector/" + links["business_key"]["url"])
    assert by_bk.status_code == 200 and by_bk.context["sort"] == "business_key"
    assert by_bk.context["form"].cleaned_data["state"] == "ACTIVE"  # the filters stay
    bks = [i.business_key for i in by_bk.context["page"].items]
    assert bks == sorted(bks)
    reverse = op_client.get("/inspector/" + by_bk.context["sort_links"]["business_key"]["url"])
    assert reverse.context["sort"] == "-business_key"
    assert [i.business_key for i in reverse.context["page"].items] == sorted(bks, reverse=True)
    # The first version's names still work (saved links).
    assert op_client.get("/inspector/", {"sort": "oldest"}).context["sort"] == "started"


def test_end_date_range_parent_and_incident_filters(op_client, flow, many):
    def found(**params: str) -> set[int]:
        response = op_client.get("/inspector/", params)
        assert response.status_code == 200, response.context["form"].errors
        return set(keys_in(response))

    ended = set(ProcessInstance.objects.filter(key__in=many, end_date__isnull=False).values_list("key", flat=True))
    today = flow.clock.date()
    assert ended and found(ended_from=today.isoformat(), ended_to=today.isoformat()) == ended
    assert found(ended_from=(today + timedelta(days=1)).isoformat()) == set()

    gold = flow.start("INC-1")
    incident = flow.fail_to_incident(gold)
    assert found(incident_type=incident.error_type) == {gold}
    assert found(incident_type="UNHANDLED_ERROR_EVENT") == set()
    assert found(incident_message="GATEWAY down") == {gold}  # contains, any case
    assert found(incident_message="printer on fire") == set()
    assert found(incident_element="Charge") == {gold}
    assert found(incident_element="Ship") == set()

    flow.deploy("inspect-parent.bpmn")
    parent = flow.start("P-1", process_id="inspect-parent")
    child = ProcessInstance.objects.get(parent_instance_key=parent).key
    assert found(parent=str(parent)) == {child}
    assert found(parent=str(gold)) == set()


def test_bad_new_filters_are_form_errors(op_client, many):
    response = op_client.get("/inspector/", {"parent": "abc", "ended_from": "2026-12-02", "ended_to": "2026-12-01"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"parent", "ended_to"}
    assert keys_in(response) == []
    assert op_client.get("/inspector/", {"sort": "bogus"}).status_code == 400


def test_a_shared_link_opens_its_tenant_for_who_may_read_it_and_no_one_else(client, flow, other_flow, tenant,
                                                                             other_tenant):
    mine = flow.start("MINE")
    theirs = other_flow.start("THEIRS")
    both = make_user("bea", {tenant: Membership.Role.OPERATOR, other_tenant: Membership.Role.OPERATOR})
    client.force_login(both)
    assert keys_in(client.get("/inspector/")) == [mine]
    response = client.get("/inspector/", {"tenant": other_tenant.tenant_id})
    assert response.status_code == 200 and keys_in(response) == [theirs]
    assert keys_in(client.get("/inspector/")) == [theirs]  # the session follows the link
    only_one = make_user("otto", {tenant: Membership.Role.OPERATOR})
    client.force_login(only_one)
    refused = client.get("/inspector/", {"tenant": other_tenant.tenant_id})
    assert refused.status_code == 400 and "cannot inspect that tenant" in refused.content.decode()
    assert keys_in(refused) == []


def test_a_common_variable_value_is_searched_by_subquery_with_the_same_result(flow, many, monkeypatch):
    expected = {i.key for i in q.filtered_instances(flow.ids, q.InstanceFilters(var_name="tier", var_value="gold"))}
    assert len(expected) == 5
    monkeypatch.setattr(q, "FEW_MATCHES", 2)  # "common" from three matches on
    qs = q.filtered_instances(flow.ids, q.InstanceFilters(var_name="tier", var_value="gold"))
    assert "engine_variable" in str(qs.query)
    assert {i.key for i in qs} == expected
