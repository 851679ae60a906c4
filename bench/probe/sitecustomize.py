"""Statement counter for bench/e2e_http.py, loaded into the servers it starts (PYTHONPATH).

Python imports `sitecustomize` at start-up; this one does nothing unless
FLOWSYNC_BENCH_PROBE_DIR is set. It wraps psycopg's cursor (every statement Django, the
engine's pipelined reads, COPY and raw cursors send passes there) and, from a daemon thread,
writes this process's counts to `<dir>/<pid>.json` every 0.2 s. It is bench-only: the tree
under test is not changed, so the same probe counts main and a branch alike.
"""

from __future__ import annotations

import os

_DIR = os.environ.get("FLOWSYNC_BENCH_PROBE_DIR")

if _DIR:
    import json
    import threading
    import time

    import psycopg

    _counts: dict[str, int] = {}
    _lock = threading.Lock()

    def _label(query: object) -> str:
        text = query.as_string(None) if hasattr(query, "as_string") else query  # psycopg.sql.Composed
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return " ".join(str(text).split())[:110]

    def _count(query: object, n: int = 1) -> None:
        try:
            label = _label(query)
        except Exception:  # noqa: BLE001 - a label is a nicety; the count is what matters
            label = "?"
        with _lock:
            _counts[label] = _counts.get(label, 0) + n

    _execute = psycopg.Cursor.execute
    _executemany = psycopg.Cursor.executemany
    _copy = psycopg.Cursor.copy

    def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        _count(query)
        return _execute(self, query, params, **kwargs)

    def executemany(self, query, params_seq, **kwargs):  # type: ignore[no-untyped-def]
        params_seq = list(params_seq)
        _count(query, len(params_seq))
        return _executemany(self, query, params_seq, **kwargs)

    def copy(self, statement, params=None, **kwargs):  # type: ignore[no-untyped-def]
        _count(statement)
        return _copy(self, statement, params, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    psycopg.Cursor.copy = copy  # type: ignore[method-assign]

    def _dump() -> None:
        while True:
            time.sleep(0.2)
            pid = os.getpid()  # gunicorn forks its workers: each writes its own file
            with _lock:
                data = json.dumps({"pid": pid, "argv": " ".join(os.sys.argv)[:200], "counts": _counts})
            tmp = os.path.join(_DIR, f".{pid}.tmp")
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, os.path.join(_DIR, f"{pid}.json"))

    def _start() -> None:
        threading.Thread(target=_dump, name="bench-probe", daemon=True).start()

    _start()
    os.register_at_fork(after_in_child=lambda: (_counts.clear(), _start()))
