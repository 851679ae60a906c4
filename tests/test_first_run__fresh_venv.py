"""The README's run command on a fresh clone: a new virtualenv with requirements.txt only.

CI installs requirements-dev.txt, which can hide a package the running platform imports but
requirements.txt forgets (httpx did). This test builds a plain virtualenv (no system or dev
site-packages) from requirements.txt, imports every runtime module of the four apps in it, and
walks the start-up path of scripts/run.sh in embedded mode: migrate, collectstatic,
`flowsync_bootstrap --demo` on a temporary SQLite file, then gunicorn from that virtualenv and
one request to each surface and to every URL the start-up banner prints.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("flowsync", "engine", "tasklist", "inspector")

pytestmark = pytest.mark.slow


def runtime_modules() -> list[str]:
    names = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "tests" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def banner_paths() -> list[str]:
    """The URLs scripts/run.sh prints when the platform is up (host and port stripped)."""
    text = (ROOT / "scripts" / "run.sh").read_text()
    paths = re.findall(r"http://\$HOST:\$PORT(/\S*)", text)
    assert len(paths) >= 5, paths
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fresh") / "venv"
    # A plain venv: neither the test venv's packages nor the system's are visible in it.
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    pip = subprocess.run(
        [str(path / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return path


def runtime_env(tmp: Path) -> dict[str, str]:
    """What a fresh shell has: nothing of FlowSync configured (embedded SQLite, engine inline)."""
    drop = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "FLOWSYNC_ENGINE_INLINE",
            "VIRTUAL_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["FLOWSYNC_SQLITE_PATH"] = str(tmp / "flowsync.sqlite3")
    env["DJANGO_SETTINGS_MODULE"] = "flowsync.settings"
    return env


def test_fresh_virtualenv_runs_the_platform(venv: Path, tmp_path: Path) -> None:
    py = str(venv / "bin" / "python")
    env = runtime_env(tmp_path)

    # The test venv's packages are not visible in it (else a missing dependency would hide).
    probe = subprocess.run([py, "-c", "import pytest"], capture_output=True, env=env, cwd=ROOT)
    assert probe.returncode != 0, "the fresh virtualenv sees packages it did not install"

    modules = runtime_modules()
    script = (
        "import django, importlib, sys\n"
        "django.setup()\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    imported = subprocess.run([py, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    def manage(*args: str) -> str:
        done = subprocess.run([py, "manage.py", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=300)
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    creds_file = tmp_path / "credentials.json"
    out = manage("flowsync_bootstrap", "--demo", "--credentials-file", str(creds_file))
    creds = json.loads(creds_file.read_text())
    assert creds["clientId"] in out and creds["clientSecret"] in out  # the API key is printed

    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "gunicorn"), "flowsync.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

        auth = {"Authorization": "Basic " + base64.b64encode(
            f"{creds['clientId']}:{creds['clientSecret']}".encode()).decode()}
        answers = {}
        for path in ["/", "/tasks/", "/inspector/", "/admin/", "/api/docs/", "/api/schema/", *banner_paths()]:
            status, headers, _ = fetch(base + path, auth if path.startswith("/v2/") else None)
            answers[path] = status
            if status == 302:  # a surface behind a login: the login page itself answers
                location = headers["Location"]
                target = location if location.startswith("http") else base + location
                assert fetch(target)[0] == 200, (path, location)
        assert all(status in (200, 302) for status in answers.values()), answers

        status, _, body = fetch(base + "/v2/topology", auth)
        assert status == 200 and b"brokers" in body
        status, _, body = fetch(base + "/api/docs/")
        scripts = re.findall(rb'src="([^"]+)"', body)
        assert scripts, body[:500]
        for src in scripts:  # the docs UI is served from here, not a CDN
            assert src.startswith(b"/"), src
            assert fetch(base + src.decode())[0] == 200, src
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
