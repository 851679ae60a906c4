"""gunicorn settings read from the working directory (scripts/run.sh, tests/live.py, benchmarks).

SIGTERM is a graceful stop: no new connections, requests in flight finish within
`graceful_timeout`, long polls answer early (flowsync/shutdown.py).
"""

import os

graceful_timeout = int(os.environ.get("FLOWSYNC_WEB_GRACEFUL_SECONDS", "30"))


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    from flowsync.shutdown import watch_gunicorn_worker

    watch_gunicorn_worker(worker)
