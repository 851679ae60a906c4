from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from engine.api import search
from engine.api.base import ApiView, principal
from engine.rights import Right


def search_response(page: search.Page, items: list[dict[str, Any]]) -> Response:
    return Response({"items": items, "page": page.as_dict()})


class SearchView(ApiView, abc.ABC):
    """POST …/search: `spec` says what may be filtered and sorted; `shape_page` turns rows into items.

    Each resource family subclasses it with its tenant-scoped queryset and its response shape.
    """
    rights = {"POST": Right.READ}

    spec: search.Spec

    @abc.abstractmethod
    def queryset(self, request: Request) -> QuerySet:
        """The caller's tenant-scoped rows before filters, sort and paging."""

    @abc.abstractmethod
    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        """One page of rows as Camunda response items."""

    def post(self, request: Request) -> Response:
        page = search.search(self.queryset(request), self.spec, request.data)
        return search_response(page, self.shape_page(request, page.items))


def tenant_names(request: Request) -> Callable[[int], str]:
    return principal(request).tenant_id_of
