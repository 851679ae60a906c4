"""Show the time partitions of the command and event logs, create the weeks ahead, and (--drop) drop the
settled ones nothing needs any more: what the engine workers' retention run does, by hand or from cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from engine.store import partitions, retention


class Command(BaseCommand):
    help = "List the command/event log partitions, create those ahead, optionally drop expired ones."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--drop", action="store_true", help="drop settled partitions no instance needs")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if not partitions.enabled():
            raise CommandError("the logs are not partitioned here (SQLite keeps plain tables)")
        now = timezone.now()
        for name in partitions.ensure(now):
            self.stdout.write(f"created {name}")
        latest = retention.log_cutoff(now)
        if options["drop"] and latest is not None:
            for table, rows in sorted(partitions.drop_expired(now, latest).items()):
                self.stdout.write(f"dropped {rows} {table}")
        with connection.cursor() as cur:
            for table in partitions.TABLES:
                for p in partitions.partitions(table):
                    cur.execute("SELECT reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
                                "WHERE relname = %s", [p.name])
                    rows, size = cur.fetchone()
                    span = "DEFAULT" if p.default else (f"{p.lower:%Y-%m-%d} .. {p.upper:%Y-%m-%d}" if p.lower
                                                        else f"(start) .. {p.upper:%Y-%m-%d}")
                    self.stdout.write(f"{p.name:32} {span:26} ~{max(rows, 0):>10} rows {size / 1e6:>9.1f} MB")
