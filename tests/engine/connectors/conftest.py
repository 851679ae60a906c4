"""Connector tests: a local HTTP server on 127.0.0.1 (allowed explicitly) and an engine driven in-process."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.actions.instances import find_definition, start_instance
from engine.connectors.runner import run_connectors
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, Incident, Job, ProcessInstance, Variable
from engine.runtime.loop import drain

BPMN = Path(__file__).resolve().parent / "bpmn"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class TestServer:
    """Routes by path: /orders/<id> (JSON), /status/<code>, /echo, /slow/<seconds>, /hang-once, /big,
    /text, /redirect/<path>, /redirect-to/<url>, /echo-headers. Every request is recorded in `seen`."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    hung: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


def _handler(server: TestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (size cap, timeout)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode())

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            server.seen.append(Seen(self.command, parts.path, parse_qs(parts.query),
                                    {k.lower(): v for k, v in self.headers.items()}, body))
            server.arrived.set()
            path = parts.path
            if path.startswith("/orders/"):
                order_id = path.rsplit("/", 1)[1]
                if order_id == "missing":
                    self._json(404, {"error": "no such order"})
                else:
                    self._json(200, {"id": order_id, "status": "shipped", "items": [1, 2]})
            elif path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                self._send(code, b"boom: something broke", "text/plain; charset=utf-8")
            elif path == "/echo-headers":  # the request's headers back, as JSON (a receiver that echoes them)
                self._json(200, {k.lower(): v for k, v in self.headers.items()})
            elif path == "/echo":
                self._send(201, body or b"null", self.headers.get("Content-Type") or "application/octet-stream",
                           {"X-Echo": "yes"})
            elif path.startswith("/slow/"):
                server.release.wait(float(path.rsplit("/", 1)[1]))
                self._json(200, {"slow": True})
            elif path == "/hang-once":
                server.hung += 1
                if server.hung == 1:
                    server.release.wait(60)  # the caller is killed meanwhile
                self._json(200, {"attempt": server.hung})
            elif path == "/big":
                self._send(200, b"x" * (2 * 1024 * 1024), "text/plain")
            elif path == "/text":
                self._send(200, "grüße".encode(), "text/plain; charset=utf-8")
            elif path.startswith("/redirect/"):
                self._send(302, b"", "text/plain", {"Location": "/" + path.split("/", 2)[2]})
            elif path.startswith("/redirect-to/"):
                self._send(302, b"", "text/plain", {"Location": parts.query and parts.query.split("=", 1)[1]})
            else:
                self._json(404, {"error": "unknown path"})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return Handler


@pytest.fixture
def http_server():
    state = TestServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_local(settings):
    settings.CONNECTOR_HTTP_ALLOW = "127.0.0.1"
    return settings


class Engine:
    """Actions called directly with an injected clock; connectors run in this process."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.now = T0

    def deploy(self, name: str):
        return deploy(self.tenant, [Resource(name, (BPMN / name).read_bytes())], self.now)[1]

    def start(self, process_id: str, **variables: Any) -> int:
        definition = find_definition(self.tenant, process_id=process_id)
        key = start_instance(self.tenant, definition, variables, "test", self.now).key
        drain()
        return key

    def run_connectors(self) -> int:
        """Run connector jobs and apply their outcomes until the instances wait for something else."""
        total = 0
        while ran := run_connectors([self.tenant.pk], now=self.now):
            total += ran
            drain()
        return total

    def state(self, key: int) -> str:
        return ProcessInstance.objects.get(key=key).state

    def variables(self, key: int) -> dict[str, Any]:
        return dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))

    def completed(self, key: int) -> list[str]:
        return sorted(ElementInstance.objects.filter(process_instance_id=key, state="COMPLETED")
                      .values_list("element_id", flat=True))

    def job(self, key: int) -> Job:
        return Job.objects.get(process_instance_key=key)

    def incident(self, key: int) -> Incident:
        return Incident.objects.get(process_instance_key=key)


@pytest.fixture
def engine(creds):
    return Engine(creds.tenant)


def wait_until(predicate, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")
