"""Print how the engine is doing: workers (alive, lost, stopped), the command backlog, open incidents."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from engine.queries import status


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


class Command(BaseCommand):
    help = "Show engine workers (with lost ones), the pending-command backlog and open incidents."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        out = self.stdout
        workers = status.workers()
        out.write(f"Engine workers ({sum(w.state == 'alive' for w in workers)} alive, "
                  f"{sum(w.state == 'lost' for w in workers)} lost; lost after "
                  f"{status.lost_seconds():.0f}s without a heartbeat)")
        if workers:
            out.write(f"  {'STATE':8} {'WORKER':40} {'HOST':20} {'PID':>7} {'VERSION':8} {'LAST SEEN':>9} "
                      f"{'APPLIED':>9} {'BATCH':>6}")
            for w in workers:
                state = w.state.upper()
                if w.state == "lost":
                    state = self.style.ERROR(f"{state:8}")
                elif w.state == "alive":
                    state = self.style.SUCCESS(f"{state:8}")
                else:
                    state = f"{state:8}"
                out.write(f"  {state} {w.id[:40]:40} {w.host[:20]:20} {w.pid:>7} {w.version[:8]:8} "
                          f"{_age(w.age_seconds) + ' ago':>9} {w.commands_applied:>9} {w.current_batch:>6}")
        else:
            out.write("  none has reported (start one: manage.py engine_worker)")
        backlog = status.backlog()
        limit = status.backpressure_limit()
        out.write(f"\nBacklog: {backlog.pending} pending commands, oldest {_age(backlog.oldest_age_seconds)}"
                  f" (the API pushes back above {limit})")
        incidents = status.open_incidents()
        out.write(f"\nOpen incidents: {sum(n for _, _, n in incidents)}")
        for tenant, error_type, n in incidents:
            out.write(f"  {tenant:31} {error_type:40} {n:>6}")
