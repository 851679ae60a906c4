from __future__ import annotations

import pytest
from django.utils import timezone

from engine.actions.instances import cancel_instance, find_definition, start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import Command, Event, ProcessInstance, Variable
from engine.runtime.loop import drain
from flowsync.models import AuditEntry
from tests.engine.conformance.harness import BPMN as CONFORMANCE_BPMN

pytestmark = pytest.mark.django_db


def test_detail_shows_the_instance_its_incident_jobs_tasks_and_variables(op_client, flow):
    key = flow.start("ORD-9", tier="gold", items=[1, 2])
    incident = flow.fail_to_incident(key)
    response = op_client.get(f"/inspector/instances/{key}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("ORD-9", "inspect-order", "Inspect order", "JOB_NO_RETRIES", "card gateway down", str(incident.key),
                 "Charge", 'data-diagram-url="/inspector/instances/', "bpmn-navigated-viewer.production.min.js",
                 "&quot;gold&quot;", "[1, 2]", "Cancel instance"):
        assert text in html, text
    assert 'name="retries"' in html


def test_diagram_endpoint_gives_the_xml_and_overlays(op_client, flow):
    key = flow.start()
    flow.fail_to_incident(key)
    data = op_client.get(f"/inspector/instances/{key}/diagram.json").json()
    assert data["xml"].startswith("<?xml") and "BPMNDiagram" in data["xml"]
    assert data["elements"]["Charge"] == {"active": 1, "completed": 0, "incidents": 1}
    assert data["elements"]["Start"]["completed"] == 1
    assert "inspect-order" not in data["elements"]  # the process itself is not an overlay


def test_timeline_lists_events_in_order_with_their_actor(op_client, flow):
    key = flow.start()
    flow.complete_charge(key)
    response = op_client.get(f"/inspector/instances/{key}/")
    entries = [t for t in response.context["timeline"] if not t.operator_act]  # audit entries: the test below
    events = list(Event.objects.filter(process_instance_key=key).order_by("id"))
    flattened = [(e.id, i, r["intent"]) for e in events for i, r in enumerate(e.records)]
    assert [(t.event_id, t.index, t.record["intent"]) for t in entries] == flattened
    assert entries[0].command_kind == "CREATE_INSTANCE" and entries[0].actor == "starter"
    assert any(t.command_kind == "COMPLETE_JOB" and t.actor == "worker-1" for t in entries)
    times = [t.created_at for t in entries]
    assert times == sorted(times)
    html = response.content.decode()
    assert html.index("CREATE_INSTANCE") < html.index("COMPLETE_JOB")
    assert Command.objects.filter(process_instance_key=key).count() >= 2


def test_edit_a_process_variable(op_client, flow, operator):
    key = flow.start(tier="silver")
    response = op_client.post(f"/inspector/instances/{key}/variables/", {"name": "tier", "value": '{"level": "gold"}'})
    assert response.status_code == 302 and response["Location"].endswith("#variables")
    drain()
    assert Variable.objects.get(process_instance_id=key, scope_key=key, name="tier").value == {"level": "gold"}
    command = Command.objects.filter(process_instance_key=key, kind="SET_VARIABLES").get()
    assert command.actor == operator.username and command.state == "PROCESSED"
    # A new variable can be added the same way.
    op_client.post(f"/inspector/instances/{key}/variables/", {"name": "note", "value": '"checked"'})
    drain()
    assert Variable.objects.get(process_instance_id=key, name="note").value == "checked"


def test_bad_variable_values_are_form_errors_not_500s(op_client, flow):
    key = flow.start(tier="silver")
    response = op_client.post(f"/inspector/instances/{key}/variables/", {"name": "tier", "value": "gold"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "not valid JSON" in html and 'role="alert"' in html
    assert ">gold</textarea>" in html  # what was typed is kept for correction
    # Reported once, naming the variable, with its field marked.
    assert html.count("not valid JSON") == 1 and html.count('role="alert"') == 1
    assert "Variable “tier” was not changed" in html
    assert 'aria-invalid="true" aria-describedby="variable-error">gold</textarea>' in html
    # A new variable with a bad value: the new-variable form keeps what was typed.
    html = op_client.post(f"/inspector/instances/{key}/variables/",
                          {"name": "note", "value": "{oops", "origin": "new"}).content.decode()
    assert html.count("not valid JSON") == 1 and "Variable “note” was not changed" in html
    assert 'value="note"' in html and ">{oops</textarea>" in html
    assert response.status_code == 400
    assert op_client.post(f"/inspector/instances/{key}/variables/", {"name": "", "value": "1"}).status_code == 400
    assert not Command.objects.filter(kind="SET_VARIABLES").exists()
    drain()
    assert Variable.objects.get(process_instance_id=key, name="tier").value == "silver"


def test_variables_of_an_ended_instance_cannot_change(op_client, flow):
    key = flow.start(tier="silver")
    op_client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"})
    drain()
    response = op_client.post(f"/inspector/instances/{key}/variables/", {"name": "tier", "value": '"x"'})
    assert response.status_code == 400 and "only an active instance" in response.content.decode()


def test_cancel_needs_confirmation_then_terminates(op_client, flow, operator):
    key = flow.start()
    page = op_client.get(f"/inspector/instances/{key}/cancel/")
    assert page.status_code == 200 and 'name="confirm"' in page.content.decode()
    op_client.post(f"/inspector/instances/{key}/cancel/", {})
    drain()
    assert flow.tenant.processinstance_set.get(key=key).state == "ACTIVE"
    response = op_client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"})
    assert response.status_code == 302
    drain()
    assert flow.tenant.processinstance_set.get(key=key).state == "TERMINATED"
    assert Command.objects.get(process_instance_key=key, kind="CANCEL_INSTANCE").actor == operator.username
    # Cancelling again is a message, not an error page.
    again = op_client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"}, follow=True)
    assert again.status_code == 200 and "not ACTIVE" in again.content.decode()
    detail = op_client.get(f"/inspector/instances/{key}/").content.decode()
    assert "Cancel instance" not in detail and "CANCEL_INSTANCE" in detail


def test_unknown_instance_is_404(op_client, flow):
    assert op_client.get("/inspector/instances/12345/").status_code == 404
    assert op_client.get("/inspector/instances/1/diagram.json").status_code == 404


def test_call_activity_instances_link_to_their_parent_and_root(op_client, flow):
    flow.deploy("inspect-parent.bpmn")
    parent = flow.start("P-1", process_id="inspect-parent")
    child = ProcessInstance.objects.get(parent_instance_key=parent)
    assert child.root_instance_key == parent
    html = op_client.get(f"/inspector/instances/{child.key}/").content.decode()
    assert "Parent instance" in html and "Root instance" in html
    # The breadcrumb (call hierarchy), the parent and the root all lead up.
    assert html.count(f'href="/inspector/instances/{parent}/"') == 3
    assert f'data-ancestor="{parent}"' in html
    parent_html = op_client.get(f"/inspector/instances/{parent}/").content.decode()
    assert "Called instances" in parent_html and f'href="/inspector/instances/{child.key}/"' in parent_html
    data = op_client.get(f"/inspector/instances/{parent}/diagram.json").json()
    assert data["elements"]["CallOrder"]["active"] == 1


def test_timeline_interleaves_the_instances_audit_entries_as_operator_acts(op_client, flow, operator, other_flow):
    key = flow.start(tier="silver")
    r = op_client.post(f"/inspector/instances/{key}/variables/", {"name": "tier", "value": '"gold"'})
    assert r.status_code == 302, r.content.decode()[-2000:]
    drain()
    assert op_client.post(f"/inspector/instances/{key}/cancel/", {"confirm": "yes"}).status_code == 302
    drain()
    acts = list(AuditEntry.objects.filter(process_instance_key=key).order_by("id"))
    assert [(a.what, a.via) for a in acts][-2:] == [("variables.set", "inspector"), ("instance.cancel", "inspector")]
    response = op_client.get(f"/inspector/instances/{key}/")
    entries = response.context["timeline"]
    marked = [t for t in entries if t.operator_act]
    assert [(t.record["intent"], t.actor) for t in marked] == [(a.what, a.who) for a in acts]
    times = [t.created_at for t in entries]
    assert times == sorted(times)
    intents = [t.record["intent"] for t in entries]
    # Each act comes before the events it caused.
    assert intents.index(acts[-2].what) < intents.index("VARIABLE_UPDATED")
    assert intents.index(acts[-1].what) < intents.index("ELEMENT_TERMINATED")
    html = response.content.decode()
    row = html.split(f'data-intent="{acts[-1].what}" data-operator-act')[1].split("</tr>")[0]
    assert "operator act" in row and operator.username in row and "inspector" in row
    # Another tenant's acts on its own instances never show here (the query is tenant-scoped).
    theirs = other_flow.start()
    AuditEntry.objects.filter(process_instance_key=theirs).update(process_instance_key=key, tenant=other_flow.tenant)
    assert [t.record["intent"] for t in op_client.get(f"/inspector/instances/{key}/").context["timeline"]
            if t.operator_act] == [a.what for a in acts]


def test_a_call_activity_waiting_for_its_childs_canceling_listener_shows_terminating(op_client, tenant):
    """Cancelled, the parent and its call activity wait (ACTIVE in the API, as in Camunda's); the Inspector
    shows those element instances TERMINATING, and the child's task CANCELING, until the listener job is done."""
    names = ("canceling-call-child", "canceling-call-parent")
    deploy(tenant, [Resource(f"{n}.bpmn", (CONFORMANCE_BPMN / f"{n}.bpmn").read_bytes()) for n in names],
           timezone.now())
    definition = find_definition(tenant, process_id="canceling-call-parent")
    key = start_instance(tenant, definition, {"orderId": "I", "target": "canceling-call-child"}, "t",
                         timezone.now()).key
    drain()
    cancel_instance(tenant, key, "t", timezone.now())
    drain()
    child = ProcessInstance.objects.get(parent_instance_key=key).key

    html = op_client.get(f"/inspector/instances/{key}/").content.decode()
    row = html[html.index('data-element="Call_Review"'):]
    assert "state--terminating" in row[:row.index("</tr>")]
    panel = op_client.get(f"/inspector/instances/{key}/?element=Call_Review").content.decode()
    assert "state--terminating" in panel[panel.index('id="element-panel"'):]
    child_html = op_client.get(f"/inspector/instances/{child}/").content.decode()
    task_row = child_html[child_html.index('data-element="Task_Child"'):]
    assert "state--terminating" in task_row[:task_row.index("</tr>")] and "CANCELING" in child_html.upper()
