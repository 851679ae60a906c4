"""An instance compensating (handlers active under the throw event) shows in the Inspector like any other."""

from __future__ import annotations

import pytest

from engine.actions.jobs import activate_jobs, throw_error
from engine.runtime.loop import drain
from tests.engine.conformance.harness import Engine

pytestmark = pytest.mark.django_db


def test_a_compensating_instance_and_its_diagram_render(op_client, tenant):
    engine = Engine(tenant)
    engine.deploy("compensation-trip")
    key = engine.start("trip-booking")
    engine.complete_jobs("book-hotel")
    engine.complete_jobs("book-flight")
    [job] = activate_jobs([tenant.pk], "charge-card", "test", 60_000, 1, engine.now())
    throw_error([tenant.pk], job.key, "PAYMENT_FAILED", "declined", None, "test", engine.now())
    drain()
    page = op_client.get(f"/inspector/instances/{key}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cancel flight" in html and "Undo bookings" in html
    diagram = op_client.get(f"/inspector/instances/{key}/diagram.json")
    assert diagram.status_code == 200 and "Task_CancelHotel" in diagram.content.decode()
