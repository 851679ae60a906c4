"""Run one engine worker: the engine loop thread, its connector thread, and an RQ SimpleWorker.

The engine loop (engine/runtime/worker.py) applies commands as PostgreSQL notifies their
commit; the connector thread (engine/connectors/runner.py) runs the built-in connector jobs
that the loop's batches and sweeps make runnable, on a pool of threads, since their calls
may take seconds. The RQ worker takes connector runs that other processes queue on
`connectors`; SimpleWorker runs jobs in-process (no fork per job). Start as many workers as
there are cores.

Faults: with Redis unreachable the engine loop runs on (its sweep runs connector jobs
itself) and the RQ side retries every few seconds. SIGTERM/SIGINT stop gracefully: the
engine loop finishes the batch it is in (a batch is bounded, engine/runtime/budget.py)
and takes no other, connector runs take no new jobs, and the process exits; its database
session ends, so no claim outlives it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from django.core.management.base import BaseCommand

from engine.connectors import runner
from engine.runtime.heartbeat import Heartbeat, worker_id
from engine.runtime.worker import EngineLoop, sweep_once
from flowsync import gc_tuning, logs, metrics, redis

log = logging.getLogger("flowsync.engine")
REDIS_RETRY_SECONDS = 5.0


class Command(BaseCommand):
    help = "Run an engine worker (engine loop on PostgreSQL LISTEN/NOTIFY + RQ queue 'connectors')."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--burst", action="store_true", help="apply what is pending, run queued connectors, exit")
        parser.add_argument("--name", default=None)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]

        gc_tuning.tune()
        loop = EngineLoop()
        if options["burst"]:
            sweep_once()
            self._work(loop, burst=True, name=options["name"])
            sweep_once()
            return
        stopping = threading.Event()
        heartbeat = Heartbeat(worker_id(options["name"]))
        logs.bind_process(worker=heartbeat.worker)  # every thread's lines name the worker
        _on_stop_signals(lambda: _stop(loop, stopping))
        heartbeat.start()
        loop.start()  # its first round sweeps: work left by a crash first, PostgreSQL is the truth
        runner.run_in_this_process()  # the connector jobs its batches make runnable, without an RQ job each
        try:
            while not stopping.is_set():
                if self._work(loop, burst=False, name=options["name"], stopping=stopping):
                    break
                stopping.wait(REDIS_RETRY_SECONDS)
        finally:
            _stop(loop, stopping)
            loop.join(timeout=30)
            runner.stop_local(timeout=runner.budget_seconds() + 5)  # the calls in flight are reported
            heartbeat.stopped.set()
            heartbeat.join(timeout=5)  # after the loop: the last beat records the final count
            metrics.mark_process_dead(os.getpid())

    def _work(self, loop: EngineLoop, burst: bool, name: str | None,
              stopping: threading.Event | None = None) -> bool:
        """Run the RQ worker until it stops (True) or Redis fails it (False: try again later)."""
        from rq.worker import SimpleWorker


        class Worker(SimpleWorker):
            def request_stop(self, signum, frame):  # type: ignore[no-untyped-def]
                # RQ owns SIGTERM while it works: stop the engine side too.
                if stopping is not None:
                    _stop(loop, stopping)
                super().request_stop(signum, frame)

        queue = redis.queue("connectors")
        try:
            Worker([queue], connection=queue.connection, name=name).work(burst=burst, logging_level="WARNING")
        except Exception as exc:  # noqa: BLE001 - Redis down: the engine loop and its sweep carry on
            if burst:
                return True
            log.warning("connector queue unreachable (%s); the engine loop runs on, retrying in %.0f s", exc,
                        REDIS_RETRY_SECONDS)
            return False
        return True


def _stop(loop: EngineLoop, stopping: threading.Event) -> None:
    stopping.set()
    loop.stopped.set()
    runner.STOP.set()


def _on_stop_signals(callback) -> None:  # type: ignore[no-untyped-def]
    def handler(signum, frame):  # type: ignore[no-untyped-def]
        callback()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
