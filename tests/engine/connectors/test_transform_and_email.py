"""flowsync:transform (CEL/FEEL mappings into variables) and flowsync:email (Django's mail backend)."""

from __future__ import annotations

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_transform_maps_with_a_cel_header_a_feel_input_and_a_static_cel_input(engine):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("transform", order={"item": "lamp", "price": 40, "quantity": 3})
    assert engine.run_connectors() == 3  # one task after the other, in one run
    assert engine.state(key) == "COMPLETED"
    variables = engine.variables(key)
    assert variables["total"] == 120 and variables["big"] is True
    assert variables["label"] == "LAMP x3"
    assert variables["summary"] == {"total": 120, "label": "LAMP x3"} and variables["state"] == "checked"
    assert "mapping" not in variables


def test_a_mapping_that_fails_is_an_incident_naming_the_expression(engine):
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("transform", order={"item": "lamp", "price": "forty", "quantity": 3})
    engine.run_connectors()
    incident = engine.incident(key)
    assert incident.error_type == "JOB_NO_RETRIES" and incident.element_id == "CelHeader"
    assert incident.error_message.startswith("mapping header:")


def test_email_goes_through_the_mail_backend(engine, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("email", orderId="A-9", customer={"name": "Ada", "email": "ada@example.com"})
    assert engine.run_connectors() == 1
    assert engine.state(key) == "COMPLETED"
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and message.from_email == "shop@example.com"
    assert message.subject == "Order A-9 shipped"
    assert message.body == "Hello Ada, your order is on its way."
    assert engine.variables(key)["mail"] == {"sent": 1, "to": ["ada@example.com"]}


def test_email_to_a_bad_address_or_with_an_injected_header_is_refused(engine, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    engine.deploy("flowsync-connectors.bpmn")
    bad = engine.start("email", orderId="A-1", customer={"name": "X", "email": "not-an-address"})
    injected = engine.start("email", orderId="A-2\nBcc: victim@example.com", customer={"name": "Y",
                                                                                        "email": "y@example.com"})
    assert engine.run_connectors() == 2
    assert "`to` has an invalid email address: 'not-an-address'" in engine.incident(bad).error_message
    assert "invalid email header" in engine.incident(injected).error_message
    assert mail.outbox == []


def test_a_mail_server_error_is_retried(engine, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on the discard port
    engine.deploy("flowsync-connectors.bpmn")
    key = engine.start("email", orderId="A-3", customer={"name": "Z", "email": "z@example.com"})
    engine.run_connectors()
    job = engine.job(key)
    assert job.state == "ACTIVATABLE" and job.retries == 1
    assert job.error_message.startswith("could not send the email:")
