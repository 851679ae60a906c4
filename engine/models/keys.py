from django.db import models


class KeyBlock(models.Model):
    """Key counter for databases without sequences (SQLite, the embedded mode)."""

    next_key = models.BigIntegerField()
