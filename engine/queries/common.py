from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import Model, QuerySet

from engine.errors import NotFound
from engine.models import ProcessInstance

M = TypeVar("M", bound=Model)


def get_or_404(qs: QuerySet[M], key: int, what: str) -> M:
    found = qs.filter(pk=key).first()
    if found is None:
        raise NotFound(f"no {what} with key {key}")
    return found


def root_keys(instance_keys: Iterable[int]) -> dict[int, int]:
    """Process instance key → its root instance key (call-activity trees), in one query."""
    keys = set(instance_keys)
    if not keys:
        return {}
    return dict(ProcessInstance.objects.filter(key__in=keys).values_list("key", "root_instance_key"))
