"""Browser tests of the Tasklist (the Playwright fixtures are in tests/conftest.py).

The engine runs inline in the live server, so a completed task moves the process on before
the response is sent.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def browser_settings(settings):  # type: ignore[no-untyped-def]
    settings.ENGINE_INLINE = True  # commands submitted by pages are applied before the response
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
