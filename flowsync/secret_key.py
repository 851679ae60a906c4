"""The installation's SECRET_KEY: generated once, kept in a 0600 file, never a well-known value.

Django's SECRET_KEY signs sessions, password-reset links and FlowSync's OAuth access tokens, so
a known key lets anyone forge them. `./scripts/run.sh` runs `python -m flowsync.secret_key`
before anything else: it writes `var/secret_key` (mode 0600) the first time and leaves it alone
afterwards. Settings read FLOWSYNC_SECRET_KEY, else that file, and refuse a known, short or empty
key unless FLOWSYNC_DEBUG is on. Several web hosts share one key through FLOWSYNC_SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

# The key this project shipped as its default before it generated one, and Django's marker.
KNOWN_KEYS = frozenset({"flowsync-insecure-dev-key-change-me", "change-me", "secret", "changeme"})
DEV_KEY = "flowsync-insecure-dev-key-change-me"
MIN_LENGTH = 32


def key_file() -> Path:
    """FLOWSYNC_SECRET_KEY_FILE, else var/secret_key beside the embedded database and credentials."""
    default = Path(__file__).resolve().parent.parent / "var" / "secret_key"
    return Path(os.environ.get("FLOWSYNC_SECRET_KEY_FILE") or default)


def problem_with(key: str) -> str | None:
    """Why this key must not run a production-like start, or None when it is fine."""
    if not key.strip():
        return "it is empty"
    if key in KNOWN_KEYS or key.startswith("django-insecure"):
        return "it is a well-known default"
    if len(key) < MIN_LENGTH or len(set(key)) < 8:
        return f"it is shorter than {MIN_LENGTH} characters or too repetitive"
    return None


def read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def ensure(path: Path) -> bool:
    """Write a new random key to `path` (0600) unless a usable one is there; True when one was written."""
    if problem_with(read(path)) is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL on a temporary name, then rename: never a moment with a readable or half-written key.
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(50) + "\n")
    os.replace(tmp, path)
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else key_file()
    if ensure(path):
        print(f"==> generated this installation's secret key in {path} (mode 0600; keep it, back it up)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
