"""Saved filters: per person and tenant, named, replaced when saved again under the same name, opened as a
plain link (the filters are the URL), deletable only by their owner."""

from __future__ import annotations

import pytest

from engine.models import SavedFilter
from flowsync.models import Membership
from tests.inspector.conftest import make_user

pytestmark = pytest.mark.django_db


def test_save_open_replace_and_delete(op_client, operator, flow, tenant):
    gold = flow.start("ORD-1", tier="gold")
    flow.start("ORD-2", tier="silver")
    listed = op_client.get("/inspector/", {"var_name": "tier", "var_value": '"gold"', "after": "x", "sort": "key"})
    query = listed.context["query"]
    assert "after" not in query and "var_name=tier" in query
    saved = op_client.post("/inspector/filters/", {"name": "Gold orders", "query": query})
    assert saved.status_code == 302
    opened = op_client.get(saved["Location"])
    assert [i.key for i in opened.context["page"].items] == [gold]
    assert [f.name for f in opened.context["saved"]] == ["Gold orders"]
    assert 'data-saved-filter="Gold orders"' in opened.content.decode()
    op_client.post("/inspector/filters/", {"name": "Gold orders", "query": "state=COMPLETED"})
    [f] = SavedFilter.objects.filter(user=operator)
    assert f.query == "state=COMPLETED"
    # Another operator of the tenant neither sees nor deletes it, but the link works for them.
    other = make_user("ola", {tenant: Membership.Role.OPERATOR})
    op_client.force_login(other)
    assert op_client.get("/inspector/").context["saved"] == []
    op_client.post(f"/inspector/filters/{f.pk}/delete/")
    assert SavedFilter.objects.filter(pk=f.pk).exists()
    op_client.force_login(operator)
    op_client.post(f"/inspector/filters/{f.pk}/delete/")
    assert not SavedFilter.objects.filter(pk=f.pk).exists()


def test_a_nameless_filter_is_refused(op_client, operator, flow):
    response = op_client.post("/inspector/filters/", {"name": "  ", "query": "state=ACTIVE"}, follow=True)
    assert response.status_code == 200 and "Give the filter a name" in response.content.decode()
    assert not SavedFilter.objects.exists()
