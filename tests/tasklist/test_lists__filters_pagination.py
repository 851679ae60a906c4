"""Filters, search, sort and keyset pagination of the task lists."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from engine.models import UserTask
from engine.queries.tasks import (
    SORTS,
    TaskFilters,
    Viewer,
    apply_filters,
    decode_cursor,
    due_window,
    page,
    task_list,
)
from engine.runtime.loop import drain
from tests.tasklist.conftest import login, start_invoice

pytestmark = pytest.mark.django_db


def keys_in(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [t.key for t in response.context["page"].items]


@pytest.fixture
def many(invoice, alice):  # type: ignore[no-untyped-def]
    """60 invoices with priorities 0..59 spread over due dates, some without one."""
    now = timezone.now()
    keys = []
    for i in range(60):
        due = None if i % 7 == 0 else (now + timedelta(hours=(i % 10) - 3)).isoformat()
        keys.append(invoice.start("invoice-approval", f"INV-{i:03d}", drain=False, supplier="S", priority=i,
                                  dueDate=due))
    drain()
    return [invoice.open_task(k) for k in keys]


def walk(client: Client, url: str) -> list[int]:
    """Follow `Next` links to the end; return every key in order."""
    seen: list[int] = []
    while True:
        response = client.get(url)
        assert response.status_code == 200
        seen += keys_in(response)
        nxt = response.context["next_url"]
        if not nxt:
            return seen
        url = url.split("?")[0] + nxt


@pytest.mark.parametrize("sort", ["created", "oldest", "due", "priority"])
def test_keyset_pages_cover_every_task_once_in_order(many, alice, sort):
    client = login(alice)
    keys = walk(client, f"/tasks/offered/?sort={sort}")
    assert sorted(keys) == sorted(t.key for t in many) and len(keys) == 60
    rows = {t.key: t for t in UserTask.objects.filter(key__in=keys)}
    if sort == "priority":
        assert [rows[k].priority for k in keys] == sorted((rows[k].priority for k in keys), reverse=True)
    if sort == "due":
        dues = [rows[k].due_date for k in keys]
        with_due = [d for d in dues if d is not None]
        assert with_due == sorted(with_due) and dues[len(with_due):] == [None] * (60 - len(with_due))
    if sort == "created":
        assert keys == sorted(keys, key=lambda k: (rows[k].creation_date, k), reverse=True)


def test_previous_page_goes_back_exactly(many, alice):
    client = login(alice)
    first = client.get("/tasks/offered/?sort=due")
    second = client.get("/tasks/offered/" + first.context["next_url"])
    assert second.context["prev_url"] and second.context["first_url"]
    back = client.get("/tasks/offered/" + second.context["prev_url"])
    assert keys_in(back) == keys_in(first)
    assert not first.context["prev_url"]


def test_bad_cursor_starts_from_the_first_page(many, alice):
    client = login(alice)
    assert keys_in(client.get("/tasks/offered/?after=garbage!!")) == keys_in(client.get("/tasks/offered/"))
    assert decode_cursor("WyJkdWUiLCJ4Il0", SORTS["due"], "due") is None


def test_filters_by_priority_process_name_and_search(many, alice, invoice):
    client = login(alice)
    critical = keys_in(client.get("/tasks/offered/?priority=high"))
    assert critical and all(51 <= UserTask.objects.get(key=k).priority <= 75 for k in critical)
    assert keys_in(client.get("/tasks/offered/?q=INV-007")) == [many[7].key]
    assert keys_in(client.get(f"/tasks/offered/?q={many[8].key}")) == [many[8].key]
    assert len(walk(client, "/tasks/offered/?process=invoice-approval")) == 60
    assert keys_in(client.get("/tasks/offered/?process=other")) == []
    assert len(walk(client, "/tasks/offered/?name=approve")) == 60
    assert keys_in(client.get("/tasks/offered/?name=nothing-like-it")) == []
    page_html = client.get("/tasks/offered/?q=INV-007").content.decode()
    assert 'value="INV-007"' in page_html  # the filter form keeps what was typed


def test_due_filters_and_overdue_marking(invoice, alice):
    now = timezone.now()
    late = start_invoice(invoice, "LATE", dueDate=(now - timedelta(hours=2)).isoformat())
    later = start_invoice(invoice, "LATER", dueDate=(now + timedelta(days=30)).isoformat())
    client = login(alice)
    assert keys_in(client.get("/tasks/offered/?due=overdue")) == [late.key]
    response = client.get("/tasks/offered/")
    html = response.content.decode()
    assert "task-row--overdue" in html and "Overdue" in html
    assert later.key not in keys_in(client.get("/tasks/offered/?due=week"))


def test_due_windows_use_the_viewers_time_zone():
    tz = zoneinfo.ZoneInfo("Pacific/Auckland")
    now = dt.datetime(2030, 3, 6, 20, 0, tzinfo=dt.UTC)  # already Thursday 7 March 09:00 in Auckland
    start, end = due_window("today", now, tz)
    assert start == dt.datetime(2030, 3, 7, tzinfo=tz) and end == dt.datetime(2030, 3, 8, tzinfo=tz)
    start, end = due_window("week", now, tz)
    assert start == dt.datetime(2030, 3, 4, tzinfo=tz) and end == dt.datetime(2030, 3, 11, tzinfo=tz)


def test_htmx_request_gets_only_the_results(many, alice):
    client = login(alice)
    response = client.get("/tasks/offered/?sort=priority", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="task-results")
    html = response.content.decode()
    assert "<html" not in html and "task-table" in html
    assert "HX-Request" in response["Vary"]


def test_queries_module_pages_without_the_views(many, invoice):
    viewer = Viewer(tenant_id=invoice.tenant.pk, username="alice", groups=("accounting",))
    qs = apply_filters(task_list(viewer, "offered"), TaskFilters(priority="high"), timezone.now(), dt.UTC)
    first = page(qs, "priority", size=5)
    assert [t.priority for t in first.items] == [59, 58, 57, 56, 55]
    second = page(qs, "priority", after=first.next_cursor, size=5)
    assert [t.priority for t in second.items] == [54, 53, 52, 51]  # "high" is 51..75
