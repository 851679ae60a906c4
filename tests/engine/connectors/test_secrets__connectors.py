"""Connector secrets end to end over real HTTP: set in the admin (write-only), referenced as
`{{secrets.NAME}}` in a flow's http node and in a BPMN REST connector task, received by a local
server, and found in no stored row (every table of the database, scanned) and on no page."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from engine.actions.incidents import retry_incident
from engine.definitions.deploy import Resource, deploy
from engine.models import ConnectorSecret, Incident, Job, StepLog
from engine.secrets import SecretError, resolve, set_secret
from flowsync.models import ApiKey, AuditEntry, Role
from flowsync.staff import make_tenant_admin
from tests.conftest import Credentials
from tests.engine.connectors.conftest import BPMN
from tests.engine.flows.conftest import Flows

pytestmark = pytest.mark.django_db

VALUE = "sk-live-9f8e7d6c5b4a3921"


def rows_holding(text: str) -> dict[str, int]:
    """Every table of the database (partitions through their parents too) whose rows contain `text`."""
    found = {}
    with connection.cursor() as cur:
        if connection.vendor != "postgresql":  # the embedded SQLite pass: every row of every table, read here
            for table in connection.introspection.table_names(cur):
                cur.execute(f'SELECT * FROM "{table}"')
                count = sum(1 for row in cur.fetchall() if any(text in str(value) for value in row))
                if count:
                    found[table] = count
            return found
        cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition")
        for (table,) in cur.fetchall():
            cur.execute(f'SELECT count(*) FROM "{table}" t WHERE strpos(t::text, %s) > 0', [text])
            count = cur.fetchone()[0]
            if count:
                found[table] = count
    return found


@pytest.fixture
def admin_client(creds, settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = User.objects.create_user("ada", password="pw-123456789")
    make_tenant_admin(user, creds.tenant)  # staff, tenant admin, not a superuser
    client = Client()
    client.force_login(user)
    return client


def add_secret_in_admin(client: Client, tenant_pk: int, name: str, value: str) -> ConnectorSecret:
    page = client.post("/admin/engine/connectorsecret/add/", {"tenant": tenant_pk, "name": name, "value": value})
    assert page.status_code == 302, page.content.decode()[:2000]
    return ConnectorSecret.objects.get(name=name)


def secret_flow(url: str, name: str = "API_TOKEN") -> dict[str, Any]:
    ref = "{{secrets." + name + "}}"
    return {"id": "pay", "nodes": [{
        "id": "charge", "kind": "http", "method": "POST", "url": f"{url}/echo",
        # Authorization is masked by its name; X-Account and the body field only by value.
        "headers": {"Authorization": f"Bearer {ref}", "X-Account": ref},
        "body": {"note": f"token={ref}", "amount": 5},
    }]}


def test_admin_value_is_write_only_encrypted_and_audited_by_name(admin_client, creds):
    secret = add_secret_in_admin(admin_client, creds.tenant.pk, "API_TOKEN", VALUE)
    assert VALUE not in secret.ciphertext and secret.updated_by == "user:ada"
    change = admin_client.get(f"/admin/engine/connectorsecret/{secret.pk}/change/").content.decode()
    assert "API_TOKEN" in change and VALUE not in change and 'type="password"' in change
    listing = admin_client.get("/admin/engine/connectorsecret/").content.decode()
    assert "API_TOKEN" in listing and VALUE not in listing
    # Saving the page with the value left empty keeps it; a new value replaces it.
    assert admin_client.post(f"/admin/engine/connectorsecret/{secret.pk}/change/", {"value": ""}).status_code == 302
    assert ConnectorSecret.objects.get(pk=secret.pk).ciphertext == secret.ciphertext
    assert admin_client.post(f"/admin/engine/connectorsecret/{secret.pk}/change/",
                             {"value": "another-value-123"}).status_code == 302
    assert ConnectorSecret.objects.get(pk=secret.pk).ciphertext != secret.ciphertext
    whats = list(AuditEntry.objects.filter(target_type="connector-secret").order_by("id")
                 .values_list("what", "target_key"))
    assert whats == [("secret.create", "API_TOKEN"), ("secret.update", "API_TOKEN")]
    # A form error (bad name, no value) re-renders without the value typed.
    bad = admin_client.post("/admin/engine/connectorsecret/add/",
                            {"tenant": creds.tenant.pk, "name": "bad name!", "value": VALUE})
    assert bad.status_code == 200 and "letters, digits" in bad.content.decode() and VALUE not in bad.content.decode()
    empty = admin_client.post("/admin/engine/connectorsecret/add/", {"tenant": creds.tenant.pk, "name": "X_EMPTY"})
    assert "A new secret needs a value." in empty.content.decode()
    assert admin_client.post("/admin/engine/connectorsecret/", {
        "action": "delete_secrets", "_selected_action": [secret.pk]}).status_code == 302
    assert not ConnectorSecret.objects.exists()
    assert AuditEntry.objects.filter(what="secret.delete", target_key="API_TOKEN").exists()
    assert rows_holding(VALUE) == {} and rows_holding("another-value-123") == {}


def test_another_tenants_admin_sees_no_secret_of_this_one(admin_client, creds, other_creds, settings):
    set_secret(creds.tenant, "API_TOKEN", VALUE, "test")
    stranger = User.objects.create_user("bob", password="pw-123456789")
    make_tenant_admin(stranger, other_creds.tenant)
    client = Client()
    client.force_login(stranger)
    assert "API_TOKEN" not in client.get("/admin/engine/connectorsecret/").content.decode()
    secret = ConnectorSecret.objects.get()
    assert client.get(f"/admin/engine/connectorsecret/{secret.pk}/change/").status_code in (302, 403, 404)


def test_flow_http_node_sends_the_secret_and_nothing_stored_or_shown_holds_it(
        admin_client, creds, api, http_server, allow_local):
    add_secret_in_admin(admin_client, creds.tenant.pk, "API_TOKEN", VALUE)
    flows = Flows(creds.tenant)
    key = flows.run(secret_flow(http_server.url))
    assert flows.state(key) == "COMPLETED"
    # The receiver got the real value, in the header, the other header and the body.
    [seen] = http_server.seen
    assert seen.headers["authorization"] == f"Bearer {VALUE}" and seen.headers["x-account"] == VALUE
    assert json.loads(seen.body) == {"note": f"token={VALUE}", "amount": 5}
    # The server echoed the body: the result variable keeps the answer with the value masked.
    result = flows.variables(key)["charge"]
    assert result["status"] == 201 and result["body"] == {"note": "token=***", "amount": 5}
    [log] = StepLog.objects.filter(process_instance_key=key)
    shown = "\n".join(log.lines)
    assert "Bearer" not in shown and '"Authorization":"***"' in shown and '"X-Account":"***"' in shown
    assert "token=***" in shown
    assert rows_holding(VALUE) == {}, "a stored row holds the secret"
    pages = {
        "inspector instance": admin_client.get(f"/inspector/instances/{key}/"),
        "inspector element": admin_client.get(f"/inspector/instances/{key}/elements/charge/", HTTP_HX_REQUEST="true"),
        "execution": api.get(f"/api/flows/executions/{key}"),
        "steps": api.get(f"/api/flows/executions/{key}/steps"),
        "variables": api.post("/v2/variables/search", {"filter": {"processInstanceKey": str(key)}}, format="json"),
        "admin variables": admin_client.get(f"/admin/engine/variable/?q={key}"),
        "admin commands": admin_client.get("/admin/engine/command/"),
        "admin events": admin_client.get("/admin/engine/event/"),
        "admin jobs": admin_client.get("/admin/engine/job/"),
        "audit": admin_client.get("/admin/flowsync/auditentry/"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert VALUE not in page.content.decode(), name
    steps = pages["steps"].json()["items"]
    assert any("Authorization" in line for line in steps[0]["attempts"][-1]["log"])
    # The element panel shows the request as configured: the placeholder, never the value.
    assert "{{secrets.API_TOKEN}}" in pages["inspector element"].content.decode()


def test_bpmn_rest_connector_resolves_secrets_in_its_inputs(engine, creds, http_server, allow_local):
    set_secret(creds.tenant, "API_TOKEN", VALUE, "test")
    source = (BPMN / "camunda-rest.bpmn").read_bytes()
    # As Camunda Modeler writes it: a plain text field, and a FEEL context with the placeholder in quotes.
    source = source.replace(b'source="=apiToken"', b'source="{{secrets.API_TOKEN}}"')
    source = source.replace(b'source="={&#34;X-Trace&#34;: orderId}"',
                            b'source="={&#34;X-Trace&#34;: orderId, &#34;X-Key&#34;: &#34;{{secrets.API_TOKEN}}&#34;}"')
    deploy(creds.tenant, [Resource("camunda-rest.bpmn", source)], engine.now)
    key = engine.start("rest-order", baseUrl=http_server.url, orderId="A-17")
    assert engine.run_connectors() == 1
    assert engine.state(key) == "COMPLETED"
    [seen] = http_server.seen
    assert seen.headers["authorization"] == f"Bearer {VALUE}" and seen.headers["x-key"] == VALUE
    assert engine.variables(key)["orderStatus"] == "shipped"
    assert rows_holding(VALUE) == {}


def test_a_variable_cannot_pull_a_secret_the_model_never_named(flows_engine, creds, http_server, allow_local):
    """Camunda's rule: only names the element's own definition mentions resolve. A run's input (a webhook
    body, say) that carries a placeholder is sent as text."""
    set_secret(creds.tenant, "DB_PASSWORD", VALUE, "test")
    key = flows_engine.run({"id": "relay", "nodes": [{
        "id": "send", "kind": "http", "method": "POST", "url": f"{http_server.url}/echo", "body": "=payload"}]},
        payload={"steal": "{{secrets.DB_PASSWORD}}"})
    assert flows_engine.state(key) == "COMPLETED"
    [seen] = http_server.seen
    assert json.loads(seen.body) == {"steal": "{{secrets.DB_PASSWORD}}"}
    assert rows_holding(VALUE) == {}


def test_an_unknown_secret_is_an_incident_naming_it_and_a_retry_after_adding_it_works(
        flows_engine, creds, http_server, allow_local):
    key = flows_engine.run(secret_flow(http_server.url, "MISSING_TOKEN"))
    assert http_server.seen == []  # nothing was sent
    [incident] = Incident.objects.filter(process_instance_key=key)
    assert incident.error_type == "JOB_NO_RETRIES" and "'MISSING_TOKEN'" in incident.error_message
    assert "not defined" in incident.error_message
    assert Job.objects.get(process_instance_key=key).retries == 0  # no pointless retries
    [log] = StepLog.objects.filter(process_instance_key=key)
    assert "MISSING_TOKEN" in log.lines[0]
    set_secret(creds.tenant, "MISSING_TOKEN", VALUE, "test")
    retry_incident([creds.tenant.pk], incident.key, 1, "test", flows_engine.now)
    flows_engine.settle()
    assert flows_engine.state(key) == "COMPLETED"
    assert http_server.seen[0].headers["authorization"] == f"Bearer {VALUE}"
    assert rows_holding(VALUE) == {}


def test_secrets_are_per_tenant(flows_engine, creds, other_creds, http_server, allow_local):
    set_secret(other_creds.tenant, "API_TOKEN", VALUE, "test")  # another tenant's secret of the same name
    key = flows_engine.run(secret_flow(http_server.url))
    assert http_server.seen == []
    assert "'API_TOKEN' is not defined" in Incident.objects.get(process_instance_key=key).error_message


@pytest.fixture
def flows_engine(creds):  # type: ignore[no-untyped-def]
    return Flows(creds.tenant)


def test_literal_credentials_in_a_request_are_masked_wherever_the_request_is_shown(
        admin_client, creds, api, http_server, allow_local):
    """Without secrets (a token written into the flow itself), the pages that show the request still mask
    Authorization / Cookie / X-Api-Key-style headers: the step log, the Inspector's element panel, the admin."""
    flows = Flows(creds.tenant)
    key = flows.run({"id": "plain", "nodes": [{
        "id": "call", "kind": "http", "method": "POST", "url": f"{http_server.url}/echo",
        "headers": {"Authorization": "Bearer literal-token-1234", "Cookie": "sid=cookie-5678",
                    "X-Api-Key": "apikey-9012", "X-Trace": "visible-trace"}}]})
    assert http_server.seen[0].headers["x-api-key"] == "apikey-9012"
    # The element's input variables hold what the model wrote (Inspector: the token's own scope).
    pages = {
        "element": admin_client.get(f"/inspector/instances/{key}/elements/call/", HTTP_HX_REQUEST="true"),
        "steps": api.get(f"/api/flows/executions/{key}/steps"),
        "admin variables": admin_client.get(f"/admin/engine/variable/?q={key}"),
    }
    for name, page in pages.items():
        text = page.content.decode()
        assert page.status_code == 200, name
        for credential in ("literal-token-1234", "cookie-5678", "apikey-9012"):
            assert credential not in text, (name, credential)
    assert "visible-trace" in pages["element"].content.decode()
    assert "visible-trace" in pages["admin variables"].content.decode()


def test_the_api_sets_lists_and_deletes_secrets_without_ever_answering_a_value(api, creds, other_creds):
    created = api.put("/api/flows/secrets/API_TOKEN", {"value": VALUE}, format="json")
    assert created.status_code == 201 and created.json()["name"] == "API_TOKEN"
    replaced = api.put("/api/flows/secrets/API_TOKEN", {"value": VALUE + "-2"}, format="json")
    assert replaced.status_code == 200
    listed = api.get("/api/flows/secrets")
    assert [s["name"] for s in listed.json()["items"]] == ["API_TOKEN"]
    for answer in (created, replaced, listed):
        assert VALUE not in answer.content.decode()
    bad_name = api.put("/api/flows/secrets/bad%20name", {"value": "x"}, format="json")
    assert bad_name.status_code == 400 and bad_name["Content-Type"].startswith("application/problem+json")
    no_value = api.put("/api/flows/secrets/OTHER", {"value": ""}, format="json")
    assert no_value.status_code == 400 and "`value`" in no_value.json()["detail"]
    # Another tenant's client sees none of it.
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=other_creds.header)
    assert stranger.get("/api/flows/secrets").json()["items"] == []
    assert stranger.delete("/api/flows/secrets/API_TOKEN").status_code == 404
    assert api.delete("/api/flows/secrets/API_TOKEN").status_code == 204
    assert api.delete("/api/flows/secrets/API_TOKEN").status_code == 404
    assert [w for w, in AuditEntry.objects.filter(target_type="connector-secret").order_by("id")
            .values_list("what")] == ["secret.create", "secret.update", "secret.delete"]
    assert rows_holding(VALUE) == {}


def test_an_operator_key_may_list_names_but_not_set_secrets(creds):
    _, secret = ApiKey.issue(creds.tenant, "ops", role=Role.OPERATOR)
    key = ApiKey.objects.get(name="ops")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=Credentials(creds.tenant, key.client_id, secret).header)
    assert client.get("/api/flows/secrets").status_code == 200
    refused = client.put("/api/flows/secrets/API_TOKEN", {"value": VALUE}, format="json")
    assert refused.status_code == 403 and not ConnectorSecret.objects.exists()


def test_a_rotated_installation_key_still_reads_secrets_through_its_fallback(settings, creds):
    set_secret(creds.tenant, "API_TOKEN", VALUE, "test")
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-installation-key-" + "x" * 40, [old]
    assert resolve(creds.tenant.pk, "Bearer {{secrets.API_TOKEN}}", {"API_TOKEN"}) == (f"Bearer {VALUE}", (VALUE,))
    settings.SECRET_KEY_FALLBACKS = []  # the old key dropped: a clear error naming the secret
    with pytest.raises(SecretError, match="'API_TOKEN' cannot be decrypted"):
        resolve(creds.tenant.pk, "{{secrets.API_TOKEN}}", {"API_TOKEN"})


def test_a_receiver_echoing_a_basic_header_built_from_a_secret_has_it_scrubbed(engine, creds, http_server,
                                                                                allow_local):
    set_secret(creds.tenant, "API_PASSWORD", VALUE, "test")
    source = (BPMN / "camunda-rest.bpmn").read_bytes()
    source = source.replace(b'source="bearer" target="authentication.type"',
                            b'source="basic" target="authentication.type"')
    source = source.replace(b'source="=apiToken" target="authentication.token"',
                            b'source="svc" target="authentication.username" />'
                            b'<zeebe:input source="{{secrets.API_PASSWORD}}" target="authentication.password"')
    source = source.replace(b'source="=baseUrl + &#34;/orders/&#34; + orderId"',
                            b'source="=baseUrl + &#34;/echo-headers&#34;"')
    source = source.replace(b'={orderStatus: response.body.status, httpStatus: response.status}',
                            b'={echoed: response.body}')
    deploy(creds.tenant, [Resource("camunda-rest.bpmn", source)], engine.now)
    key = engine.start("rest-order", baseUrl=http_server.url, orderId="A-17")
    assert engine.run_connectors() == 1
    basic = base64.b64encode(f"svc:{VALUE}".encode()).decode()
    assert http_server.seen[0].headers["authorization"] == f"Basic {basic}"
    assert engine.variables(key)["echoed"]["authorization"] == "Basic ***"
    assert rows_holding(basic) == {} and rows_holding(VALUE) == {}
