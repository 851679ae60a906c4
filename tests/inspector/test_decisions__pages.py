"""The Inspector shows deployed decision definitions (definitions page) and, on an instance page, the
decisions its business rule tasks evaluated with inputs, matched rules and result; other tenants' never."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.actions.instances import start_instance
from engine.definitions.deploy import Resource, deploy
from engine.runtime.loop import drain

pytestmark = pytest.mark.django_db

FILES = Path(__file__).resolve().parents[1] / "api" / "bpmn"


def deploy_pair(tenant, now):  # type: ignore[no-untyped-def]
    return deploy(tenant, [Resource(n, (FILES / n).read_bytes())
                           for n in ("insurance-application.bpmn", "risk-rating.dmn")], now)[1][0]


def test_the_instance_page_lists_the_evaluated_decision(op_client, flow, other_flow):
    definition = deploy_pair(flow.tenant, flow.now())
    instance = start_instance(flow.tenant, definition, {"age": 22, "vehicleManufacturer": "Porsche",
                                                        "vehicleModel": "p911"}, "test", flow.now())
    drain()
    html = op_client.get(f"/inspector/instances/{instance.key}/").content.decode()
    assert "Decisions evaluated" in html and 'data-state="EVALUATED"' in html
    assert "Task_RiskGroup" in html and "#1 Rule_YoungPorsche" in html
    assert "Age = <code class=\"json\">22</code>" in html and "Not an option" in html
    # Marked on the diagram: the task, the decision it called (not the ones that one required), the result.
    marks = op_client.get(f"/inspector/instances/{instance.key}/diagram.json").json()["decisions"]
    assert list(marks) == ["Task_RiskGroup"]
    [mark] = marks["Task_RiskGroup"]
    assert mark["state"] == "EVALUATED" and mark["version"] == 1 and "Not an option" in str(mark["result"])
    # The definitions page lists the decision; another tenant's operator sees neither.
    page = op_client.get("/inspector/definitions/").content.decode()
    assert 'data-decision="risk"' in page and "risk-rating.dmn v1" in page
    other = deploy_pair(other_flow.tenant, other_flow.now())
    assert other.tenant_id != flow.tenant.pk
    assert op_client.get("/inspector/definitions/").content.decode().count('data-decision="risk"') == 1
