"""Topology, status and license: what the client asks before it does anything else."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from engine.api.base import ApiView


def version() -> str:
    return str(settings.SPECTACULAR_SETTINGS.get("VERSION", "0"))


class TopologyView(ApiView):
    rights = {"GET": None}

    def get(self, request: Request) -> Response:
        return Response(
            {
                "brokers": [
                    {
                        "nodeId": 0,
                        "brokerId": 0,
                        "host": request.get_host().rsplit(":", 1)[0] or "localhost",
                        "port": int(request.get_port() or 80),
                        "partitions": [{"partitionId": 1, "role": "leader", "health": "healthy", "state": "active"}],
                        "version": version(),
                    }
                ],
                "clusterId": None,
                "clusterSize": 1,
                "partitionsCount": 1,
                "replicationFactor": 1,
                "gatewayVersion": version(),
                "lastCompletedChangeId": "-1",
            }
        )


class StatusView(ApiView):
    """204 when the database answers, 503 otherwise; no authentication (health checks)."""
    rights = {"GET": None}

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def get(self, request: Request) -> Response:
        from django.db import connection

        try:
            with connection.cursor() as cur:
                cur.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            return Response(status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LicenseView(ApiView):
    rights = {"GET": None}

    def get(self, request: Request) -> Response:
        # Open source: no license key, nothing expires.
        return Response({"validLicense": True, "licenseType": "open-source", "isCommercial": False, "expiresAt": None})
