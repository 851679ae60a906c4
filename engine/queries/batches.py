"""Batch operations as their owners see them: state and progress per item state."""

from __future__ import annotations

from django.db.models import Count

from engine.models import BatchOperation, BatchOperationItem
from engine.queries.common import get_or_404


def get_batch(tenant_ids: list[int], key: int) -> BatchOperation:
    return get_or_404(BatchOperation.objects.filter(tenant_id__in=tenant_ids), key, "batch operation")


def progress(batch: BatchOperation) -> dict[str, int]:
    """Items per state (PENDING, DONE, FAILED, SKIPPED) and their total."""
    counts = {s: 0 for s in BatchOperationItem.State.values}
    for state, n in batch.items.order_by().values("state").annotate(n=Count("id")).values_list("state", "n"):
        counts[state] = n
    counts["total"] = sum(counts.values())
    return counts
