"""Operators' saved Inspector filters: save (a new name, or the same name again to replace it) and delete."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from django.db import transaction

from engine.errors import InvalidInput, NotFound
from engine.models import SavedFilter

# Page cursors are not part of a filter: a saved filter opens on its first page.
NOT_SAVED = frozenset({"after", "before"})
MAX_PER_PERSON = 100


def normalize_query(query: str) -> str:
    """The query string without cursors and empty values, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False) if k not in NOT_SAVED and v]
    return urlencode(sorted(pairs))


def save_filter(tenant_id: int, user_id: int, name: str, query: str, now: datetime) -> SavedFilter:
    name = name.strip()
    if not name:
        raise InvalidInput("give the filter a name")
    query = normalize_query(query)
    with transaction.atomic():
        existing = SavedFilter.objects.select_for_update().filter(tenant_id=tenant_id, user_id=user_id, name=name)
        found = existing.first()
        if found is not None:
            found.query = query
            found.save(update_fields=["query"])
            return found
        if SavedFilter.objects.filter(tenant_id=tenant_id, user_id=user_id).count() >= MAX_PER_PERSON:
            raise InvalidInput(f"you have {MAX_PER_PERSON} saved filters; delete one first")
        return SavedFilter.objects.create(tenant_id=tenant_id, user_id=user_id, name=name, query=query,
                                          created_at=now)


def delete_filter(tenant_id: int, user_id: int, filter_id: int) -> str:
    """Delete one of this person's filters; its name. NotFound for anyone else's."""
    found = SavedFilter.objects.filter(tenant_id=tenant_id, user_id=user_id, pk=filter_id).first()
    if found is None:
        raise NotFound(f"no saved filter {filter_id}")
    found.delete()
    return found.name
