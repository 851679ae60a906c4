"""Flow tests: deploy flow documents, run them in-process with an injected clock, read the outcome."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.actions.instances import start_instance
from engine.connectors.runner import run_connectors
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, Event, Incident, ProcessInstance, Variable
from engine.runtime.loop import drain

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Flows:
    def __init__(self, tenant):
        self.tenant = tenant
        self.now = T0

    def deploy(self, doc: dict[str, Any]):
        return deploy(self.tenant, [Resource(f"{doc['id']}.flow.json", json.dumps(doc).encode())], self.now)[1][0]

    def run(self, doc: dict[str, Any], **variables: Any) -> int:
        definition = self.deploy(doc)
        key = start_instance(self.tenant, definition, variables, "test", self.now).key
        self.settle()
        return key

    def settle(self) -> None:
        drain()
        while run_connectors([self.tenant.pk], now=self.now):
            drain()

    def state(self, key: int) -> str:
        return ProcessInstance.objects.get(key=key).state

    def variables(self, key: int) -> dict[str, Any]:
        return dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))

    def ran(self, key: int) -> set[str]:
        """Flow nodes that completed (generated elements, whose ids hold a '.', left out)."""
        return {e for e in ElementInstance.objects.filter(process_instance_id=key, state="COMPLETED")
                .exclude(key=key).values_list("element_id", flat=True) if "." not in e}

    def skipped(self, key: int) -> set[str]:
        return {r["elementId"] for ev in Event.objects.filter(process_instance_key=key) for r in ev.records
                if r["intent"] == "FLOW_NODE_SKIPPED"}

    def incidents(self, key: int) -> list[Incident]:
        return list(Incident.objects.filter(process_instance_key=key))


class FlakyServer:
    """/fail/<n>/<name>: answers 500 to the first n requests for a name, then 200 {"ok": true, "calls": k};
    /status/<code>/<name>: always answers <code>."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.keys: dict[str, list[str]] = {}  # Idempotency-Key headers received, per name
        counts, keys = self.calls, self.keys

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                _, route, fails, name = self.path.split("?")[0].split("/", 3)
                counts[name] = counts.get(name, 0) + 1
                keys.setdefault(name, []).append(self.headers.get("Idempotency-Key") or "")
                if route == "status":  # /status/<code>/<name>: always that status
                    status = int(fails)
                else:
                    status = 500 if counts[name] <= int(fails) else 200
                body = json.dumps({"ok": status == 200, "calls": counts[name]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def flaky(settings):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    server = FlakyServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def flows(creds):
    return Flows(creds.tenant)
