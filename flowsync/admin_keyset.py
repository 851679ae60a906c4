"""Keyset pagination for the admin's big lists (instances, jobs, incidents, commands, events, the
audit trail): newest first by primary key, a page is `WHERE pk < <last row's pk> ORDER BY pk DESC
LIMIT n+1`, so page 1 and page 20,000 cost the same, and no COUNT(*) runs over the whole table
(the result count is capped at COUNT_CAP: "more than 10000"). Links: `?after=PK` (older),
`?before=PK` (newer); every filter and search keeps working, column sorting is off (one order).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest

AFTER, BEFORE = "after", "before"
COUNT_CAP = 10_000


def _key(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


class KeysetChangeList(ChangeList):
    keyset = True  # the pagination template shows older / newer links instead of page numbers

    def get_filters_params(self, params: Any = None) -> dict:
        lookup = super().get_filters_params(params)
        lookup.pop(AFTER, None)
        lookup.pop(BEFORE, None)
        return lookup

    def get_query_string(self, new_params: Any = None, remove: Any = None) -> str:
        # A filter, search or action link starts again from the newest rows.
        return super().get_query_string(new_params, [*(remove or []), AFTER, BEFORE])

    def get_ordering(self, request: HttpRequest, queryset: Any) -> list[str]:
        return [f"-{self.lookup_opts.pk.name}"]

    def get_results(self, request: HttpRequest) -> None:
        pk, size = self.lookup_opts.pk.name, self.list_per_page
        after, before = _key(self.params.get(AFTER)), _key(self.params.get(BEFORE))
        if before is not None:
            rows = list(self.queryset.filter(**{f"{pk}__gt": before}).order_by(pk)[: size + 1])
            self.has_newer, self.has_older = len(rows) > size, True
            rows = rows[:size][::-1]
        else:
            qs = self.queryset if after is None else self.queryset.filter(**{f"{pk}__lt": after})
            rows = list(qs.order_by(f"-{pk}")[: size + 1])
            self.has_older, self.has_newer = len(rows) > size, after is not None
            rows = rows[:size]
        # Capped: at most COUNT_CAP + 1 index entries are counted, whatever the table's size.
        counted = self.queryset.order_by().values(pk)[: COUNT_CAP + 1].count()
        self.count_capped = counted > COUNT_CAP
        self.result_count = min(counted, COUNT_CAP)
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.result_list = rows
        self.can_show_all = False
        self.multi_page = False  # no page numbers (the template draws older / newer)
        self.paginator = self.model_admin.get_paginator(request, rows, size)
        self.older_url = self.get_query_string({AFTER: getattr(rows[-1], pk)}) if rows and self.has_older else ""
        self.newer_url = self.get_query_string({BEFORE: getattr(rows[0], pk)}) if rows and self.has_newer else ""


class KeysetAdmin(admin.ModelAdmin):
    """A changelist fast on millions of rows (KeysetChangeList); sorting by column is off."""

    list_per_page = 50
    show_full_result_count = False
    sortable_by: Any = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return KeysetChangeList
