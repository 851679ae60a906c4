"""Playwright fixtures: Debian's Chromium, headless, against pytest-django's live server.

Never `playwright install`: the browser is /usr/bin/chromium. Screenshots go to
artifacts/screenshots/ (ignored by git). The engine runs inline in the live server, so a
completed task moves the process on before the response is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    """Factory for isolated browser contexts (separate cookies: separate people)."""
    contexts = []

    def make(**options):  # type: ignore[no-untyped-def]
        options = {"timezone_id": "UTC", "locale": "en-GB", "viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


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
def browser_settings(settings):  # type: ignore[no-untyped-def]
    settings.ENGINE_INLINE = True  # commands submitted by pages are applied before the response
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
