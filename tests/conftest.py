"""Shared fixtures: tenants with API keys, an authenticated API client, BPMN files, worker processes."""

from __future__ import annotations

import base64
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from flowsync.models import ApiKey, Tenant

ROOT = Path(__file__).resolve().parent.parent
BPMN_DIR = Path(__file__).resolve().parent / "engine" / "bpmn"


@dataclass
class Credentials:
    tenant: Tenant
    client_id: str
    secret: str

    @property
    def header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()


def make_tenant(tenant_id: str) -> Credentials:
    tenant = Tenant.objects.create(tenant_id=tenant_id, name=tenant_id)
    key, secret = ApiKey.issue(tenant, f"{tenant_id}-key")
    return Credentials(tenant, key.client_id, secret)


@pytest.fixture
def creds(db) -> Credentials:  # type: ignore[no-untyped-def]
    return make_tenant("<default>")


@pytest.fixture
def other_creds(db) -> Credentials:  # type: ignore[no-untyped-def]
    return make_tenant("tenant-b")


@pytest.fixture
def api(creds: Credentials) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=creds.header)
    return client


@pytest.fixture
def other_api(other_creds: Credentials) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=other_creds.header)
    return client


def bpmn_file(name: str) -> bytes:
    return (BPMN_DIR / name).read_bytes()


def deploy_file(api: APIClient, name: str, content: bytes | None = None):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        name, content if content is not None else bpmn_file(name), content_type="application/octet-stream"
    )
    return api.post("/v2/deployments", {"resources": [upload]}, format="multipart")


def die_with_parent() -> None:
    """preexec_fn for test subprocesses: the kernel kills them when pytest dies, so a killed run leaves no
    engine worker draining a later run's database."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def flush_redis() -> Iterator[None]:
    import django_rq

    conn = django_rq.get_connection("engine")
    conn.flushdb()
    yield
    conn.flushdb()


WORKER_APP_NAME = "flowsync-test-engine-worker"


def end_worker_sessions() -> None:
    """End the database sessions of killed worker processes. A backend whose client was killed mid-batch
    holds its locks until its statement ends; the test database's flush (TRUNCATE) that followed waited for
    one of them while it waited for the flush: PostgreSQL broke the deadlock by failing the flush, and the
    next test found the last one's rows."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s", [WORKER_APP_NAME])
            if not cur.fetchone()[0]:
                return
            time.sleep(0.05)


class WorkerProcess:
    """A real `manage.py engine_worker` process against the test database and Redis."""

    def __init__(self, extra_env: dict[str, str] | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "FLOWSYNC_ENGINE_INLINE": "0",
            "DJANGO_SETTINGS_MODULE": "flowsync.settings",
            "FLOWSYNC_ENGINE_SWEEP_SECONDS": "0.5",
            "PGAPPNAME": WORKER_APP_NAME,  # libpq names its sessions: see `end_worker_sessions`
            **(extra_env or {}),
        }
        # A file, not a pipe: nobody reads a pipe until the end, and a full one blocks every log write.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "engine_worker"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def output(self) -> str:
        self.kill(signal.SIGTERM)
        return self.log_text()

    def log_text(self) -> str:
        """What the process wrote so far (it keeps running)."""
        self.log.seek(0)
        return self.log.read()


@pytest.fixture
def start_worker(flush_redis) -> Iterator:  # type: ignore[no-untyped-def]
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
    if started:
        end_worker_sessions()


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    yield
    # Worker processes and live-server threads may still hold sessions; the test database
    # can only be dropped once they are gone.
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )


# -- browser (Playwright on Debian's Chromium, headless; never `playwright install`) -------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def playwright_runtime() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")
    from playwright.sync_api import sync_playwright

    # Sync Playwright keeps an event loop running in this thread; Django's ORM refuses to run
    # there unless told it is safe (it is: the test code is synchronous). Scoped to these tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as runtime:
            yield runtime
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright_runtime):  # type: ignore[no-untyped-def]
    instance = playwright_runtime.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@pytest.fixture
def new_context(browser):  # type: ignore[no-untyped-def]
    """Factory for isolated browser contexts (separate cookies: separate people).

    Every browser test also proves the pages run under their Content-Security-Policy: a message
    about a refused script, style or eval fails the test.
    """
    contexts = []
    violations: list[str] = []

    def watch(page):  # type: ignore[no-untyped-def]
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text
                or "evalDisallowed" in msg.text else None)

    def make(**options):  # type: ignore[no-untyped-def]
        options = {"timezone_id": "UTC", "locale": "en-GB", "viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not violations, violations


@pytest.fixture
def page(new_context):  # type: ignore[no-untyped-def]
    return new_context().new_page()


@pytest.fixture
def screenshot() -> Callable:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> Iterator[None]:
    """Failed sign-ins of one test must not throttle the next (flowsync.auth.throttle counts in Redis)."""
    from flowsync import redis

    def clear() -> None:
        conn = redis.connection("engine")
        keys = list(conn.scan_iter("flowsync:login-failures:*", count=1000))
        if keys:
            conn.delete(*keys)

    clear()
    yield
    clear()



@pytest.fixture(autouse=True, scope="session")
def _api_keys_read_every_time() -> None:
    """Tests change keys and tenants by hand and expect the next request to see it: no recheck interval
    (tests/api/test_auth__strategies.py tests the interval itself). Set once, not through the `settings`
    fixture: tests that point Redis elsewhere rely on `settings` being restored before the autouse
    fixtures above tear down."""
    from django.conf import settings

    settings.FLOWSYNC_API_KEY_RECHECK_SECONDS = 0


@pytest.fixture(autouse=True)
def _no_key_cached_by_another_test() -> Iterator[None]:
    from flowsync.auth.credentials import forget_keys

    forget_keys()
    yield
    forget_keys()
