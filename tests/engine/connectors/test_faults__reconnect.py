"""A connector worker whose database connection was killed reconnects and carries on."""

from __future__ import annotations

import pytest

from engine.models import ProcessInstance
from tests.api.test_faults__database import kill_backends
from tests.conftest import wait_for
from tests.engine.connectors.test_workers__connectors import _deploy, _start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_connector_jobs_run_after_the_connections_were_killed(creds, start_worker):
    _deploy(creds.tenant, "flowsync-connectors.bpmn")
    start_worker()
    order = {"item": "pen", "price": 2, "quantity": 5}
    first = _start(creds.tenant, "transform", order=order)
    wait_for(lambda: ProcessInstance.objects.get(key=first).state == "COMPLETED", timeout=60)
    for _ in range(2):
        assert kill_backends() >= 1  # the engine loop's and the connector worker's connections
        keys = [_start(creds.tenant, "transform", order=order) for _ in range(3)]
        wait_for(lambda keys=keys: ProcessInstance.objects.filter(key__in=keys, state="COMPLETED").count() == 3,
                 timeout=30)
