"""Run one engine worker: an RQ SimpleWorker on the `engine` and `connectors` queues plus the sweeper thread.

SimpleWorker runs jobs in-process (no fork per job), which the engine's many short
drain jobs need. Start as many of these as there are cores.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from engine.runtime.worker import Sweeper, sweep_once


class Command(BaseCommand):
    help = "Run an engine worker (RQ queues 'engine' and 'connectors' + sweeper for pending commands)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--burst", action="store_true", help="drain what is pending, then exit")
        parser.add_argument("--name", default=None)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        import django_rq
        from rq.worker import SimpleWorker

        # Work left by a crash or a Redis outage first: PostgreSQL is the source of truth.
        sweep_once()
        sweeper = Sweeper()
        if not options["burst"]:
            sweeper.start()
        # Engine drains first; built-in connector runs (engine/connectors) when no drain is waiting.
        queues = [django_rq.get_queue("engine"), django_rq.get_queue("connectors")]
        worker = SimpleWorker(queues, connection=queues[0].connection, name=options["name"])
        try:
            worker.work(burst=options["burst"], logging_level="WARNING")
        finally:
            sweeper.stopped.set()
        if options["burst"]:
            sweep_once()
