"""gunicorn settings read from the working directory (scripts/run.sh, tests/live.py, benchmarks).

SIGTERM is a graceful stop: no new connections, requests in flight finish within
`graceful_timeout`, long polls answer early (flowsync/shutdown.py).

Metrics (flowsync/metrics.py): several workers serve /metrics, so they share
prometheus-client's multiprocess directory. scripts/run.sh creates it (empty) for the web
and engine processes together; started on its own, gunicorn makes its own under var/.
"""

import os
import shutil
from pathlib import Path

graceful_timeout = int(os.environ.get("FLOWSYNC_WEB_GRACEFUL_SECONDS", "30"))

_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before any worker imports prometheus_client: the mode is chosen at import. One
    # directory per server (its pid), removed when it exits: counters start at zero with it.
    _own_metrics_dir = Path(__file__).resolve().parent / "var" / f"metrics-web-{os.getpid()}"
    _own_metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_own_metrics_dir)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    from flowsync.shutdown import watch_gunicorn_worker

    watch_gunicorn_worker(worker)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    # In the master, where Django is not set up: prometheus-client directly.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    if _own_metrics_dir is not None:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
