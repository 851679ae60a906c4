"""Delete finished process instances older than their tenant's retention (what the engine workers do every
few minutes), now, until nothing expired is left."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from engine.store import retention
from flowsync.models import Tenant


class Command(BaseCommand):
    help = "Delete expired history: finished instances past Tenant.history_retention_days, with all their rows."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--tenant", help="only this tenant id")
        parser.add_argument("--batch-size", type=int, default=retention.BATCH_SIZE,
                            help="instance trees per transaction")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(tenant_id=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant '{options['tenant']}'")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        removed = retention.cleanup(timezone.now(), batch_size=options["batch_size"], tenant=tenant)
        self.stdout.write(f"removed {removed.instances} finished process instances")
        for table, n in sorted(removed.rows.items()):
            if n and table != "process_instances":
                self.stdout.write(f"  {table:24} {n:>10}")
