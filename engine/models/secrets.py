from django.db import models

from flowsync.models import Tenant


class ConnectorSecret(models.Model):
    """A tenant's named secret for connectors (`{{secrets.NAME}}`), encrypted at rest (engine/secrets.py).

    The value is write-only: no page, API answer or audit entry shows it back; only the connector
    runner decrypts it, at the moment a connector job runs.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    # Fernet token (AES-128-CBC + HMAC-SHA256) under a key derived from FLOWSYNC_SECRET_KEY.
    ciphertext = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        verbose_name = "connector secret"
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="connectorsecret_tenant_name_uniq")]

    def __str__(self) -> str:
        return self.name
