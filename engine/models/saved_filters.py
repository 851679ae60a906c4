"""An operator's named Inspector search: the instance list's query string, kept per person and tenant.

The query string is the whole filter (filters live in the URL), so a saved filter opens as a plain,
shareable link; saving one only spares typing it again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from flowsync.models import Tenant


class SavedFilter(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.TextField(blank=True)  # the list's query string, without page cursors
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user", "name"], name="saved_filter_name_uniq")]

    def __str__(self) -> str:
        return self.name
