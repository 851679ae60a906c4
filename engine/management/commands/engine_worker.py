"""Run one engine worker: the engine loop thread plus an RQ SimpleWorker for built-in connectors.

The engine loop (engine/runtime/worker.py) applies commands as PostgreSQL notifies their
commit; RQ runs connector calls, which may take seconds, beside it. SimpleWorker runs
jobs in-process (no fork per job). Start as many workers as there are cores.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from engine.runtime.worker import EngineLoop, sweep_once
from flowsync import gc_tuning, redis


class Command(BaseCommand):
    help = "Run an engine worker (engine loop on PostgreSQL LISTEN/NOTIFY + RQ queue 'connectors')."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--burst", action="store_true", help="apply what is pending, run queued connectors, exit")
        parser.add_argument("--name", default=None)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        from rq.worker import SimpleWorker

        gc_tuning.tune()
        loop = EngineLoop()
        if options["burst"]:
            sweep_once()
        else:
            loop.start()  # its first round sweeps: work left by a crash first, PostgreSQL is the truth
        queue = redis.queue("connectors")
        worker = SimpleWorker([queue], connection=queue.connection, name=options["name"])
        try:
            worker.work(burst=options["burst"], logging_level="WARNING")
        finally:
            loop.stopped.set()
            if loop.is_alive():
                loop.join(timeout=10)
        if options["burst"]:
            sweep_once()
