"""Keyset pagination of the admin's big lists (flowsync.admin_keyset): pages by key, never an
OFFSET or a COUNT(*) over the whole table, filters kept, older and newer links that meet."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flowsync.models import AuditEntry, Tenant

pytestmark = pytest.mark.django_db


def ids_on(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="_selected_action" value="(\d+)"', html)]


def test_pages_walk_by_key_without_offset_or_full_count(db):
    tenant = Tenant.objects.create(tenant_id="acme", name="acme")
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(tenant=tenant, who="user:ann", via="api", what="instance.start" if i % 3 else "instance.cancel",
                   target_type="process-instance", target_key=str(i), created_at=now) for i in range(250))
    client = Client()
    client.force_login(User.objects.create_superuser("root"))

    seen: list[int] = []
    url = "/admin/flowsync/auditentry/"
    with CaptureQueriesContext(connection) as queries:
        while url:
            page = client.get(url).content.decode()
            seen += ids_on(page)
            older = re.search(r'href="([^"]+)" rel="next"', page)
            url = "/admin/flowsync/auditentry/" + older.group(1).replace("&amp;", "&") if older else ""
    everything = sorted(AuditEntry.objects.values_list("id", flat=True), reverse=True)
    assert seen == everything  # 100 + 100 + 50, newest first, nothing twice, nothing missed
    sql = [q["sql"].upper() for q in queries.captured_queries if "AUDITENTRY" in q["sql"].upper()]
    assert not any("OFFSET" in s for s in sql)
    assert all("LIMIT" in s for s in sql if "COUNT(" in s)  # the count is capped, never the whole table

    # A filter is kept while paging; "newer" goes back to exactly the previous page.
    first = client.get("/admin/flowsync/auditentry/?what=instance.cancel").content.decode()
    cancels = set(AuditEntry.objects.filter(what="instance.cancel").values_list("id", flat=True))
    assert len(cancels) == 84 and set(ids_on(first)) == cancels
    assert re.search(r"84\s+audit entries", first)  # the (capped) count of the filtered rows
    second_url = re.search(r'href="([^"]+)" rel="next"', first)
    assert second_url is None  # 84 cancels fit one page of 100
    page1 = ids_on(client.get("/admin/flowsync/auditentry/").content.decode())
    older = client.get(f"/admin/flowsync/auditentry/?after={page1[-1]}").content.decode()
    newer_link = re.search(r'href="([^"]+)" rel="prev"', older).group(1).replace("&amp;", "&")
    assert ids_on(client.get("/admin/flowsync/auditentry/" + newer_link).content.decode()) == page1
