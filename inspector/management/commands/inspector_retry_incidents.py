"""Retry every active incident (of a tenant / process): one resolve-incidents batch per tenant with
`retries`, run here and now by the shared batch mechanism (engine/actions/batches.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from engine.actions.batches import run_batch, start_batch
from engine.audit import acting
from engine.models import BatchOperation
from engine.queries.inspector import active_incidents
from flowsync.models import Role, Tenant


class Command(BaseCommand):
    help = (
        "Resolve all ACTIVE incidents; jobs that ran out of retries get --retries (default 1) first. "
        "The engine then retries each failed step. Each tenant's run is a batch (see `flowsync batches`)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", help="tenant id (e.g. '<default>'); default: every tenant")
        parser.add_argument("--process", default="", help="only incidents of this BPMN process id")
        parser.add_argument("--retries", type=int, default=1, help="retries for jobs without any left (default 1)")
        parser.add_argument("--actor", default="cli:inspector_retry_incidents", help="recorded as the commands' actor")
        parser.add_argument("--dry-run", action="store_true", help="list the incidents, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["retries"] < 1:
            raise CommandError("--retries must be at least 1")
        tenants = Tenant.objects.all()
        if options["tenant"]:
            tenants = tenants.filter(tenant_id=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"no tenant {options['tenant']!r}")
        total_done = total_failed = 0
        for tenant in tenants:
            incidents = active_incidents([tenant.pk], options["process"])
            if not incidents:
                continue
            if options["dry_run"]:
                for incident in incidents:
                    self.stdout.write(f"{tenant.tenant_id}\t{incident.key}\t{incident.bpmn_process_id}\t"
                                      f"{incident.element_id}\t{incident.error_type}\t{incident.error_message}")
                continue
            with acting("cli"):
                batch = run_batch(start_batch(tenant, Role.ADMIN, BatchOperation.Kind.RESOLVE_INCIDENTS,
                                              [i.key for i in incidents], options["actor"],
                                              {"retries": options["retries"]}, queue=False).pk)
            total_done += len(batch.done)
            total_failed += len(batch.failed)
            for key, detail in batch.failed.items():
                self.stderr.write(f"{tenant.tenant_id}: incident {key} not resolved: {detail}")
        if not options["dry_run"]:
            self.stdout.write(f"resolved {total_done} incident(s); {total_failed} failed")
        if total_failed:
            raise CommandError(f"{total_failed} incident(s) could not be resolved")
