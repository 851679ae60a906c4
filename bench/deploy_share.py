"""Share of Camunda 8 files that deploy on FlowSync, and share that then run to completion with generic workers.

    .venv/bin/python bench/deploy_share.py DIR [--json]

Every .bpmn under DIR that carries the Camunda 8 namespace (http://camunda.org/schema/zeebe/1.0) is deployed
through the deploy service (engine.definitions.deploy) in a tenant of its own, with the .dmn / .form files of
its directory that it references (decision ids, form ids) and the .bpmn files of its directory that define
processes it calls (deployed first; their refusal does not count against this file).
A refusal is recorded with its reasons. Each deployed process with a none start event gets one instance, driven
in-process (engine.runtime.loop.drain) by generic workers: every job of any type completed with no variables,
every user task completed, due timers fired by moving the clock to the next one; no message or signal is sent.
Outcome per instance: COMPLETED, INCIDENT (with the incident types) or WAITING (on what).

The database is DATABASE_URL's (dropped and created again when it is PostgreSQL — use a database of your own) or,
without it, a fresh SQLite file in a temporary directory. The sample of real files: bench/real_world_sample.json
(fetch each file at its commit, keep without_diagram(text) as DIR/<local>, check the sha256).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Generic driving ends after this many rounds (a repeating timer or a loop of jobs would go on for ever).
MAX_ROUNDS = 60


@dataclass
class Outcome:
    path: str
    deployed: bool
    reasons: list[str] = field(default_factory=list)  # refusal problems, as FlowSync words them
    instances: list[tuple[str, str, str]] = field(default_factory=list)  # (process id, state, detail)


def setup_django() -> None:
    """Settings for a standalone run: the engine inline, a fresh database."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "flowsync.settings"
    os.environ.setdefault("FLOWSYNC_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLOWSYNC_LOG_LEVEL", "WARNING")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        dbname = url.rsplit("/", 1)[1]
        admin = url.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {dbname}"], check=True)
    elif not url:
        os.environ["FLOWSYNC_SQLITE_PATH"] = str(Path(tempfile.mkdtemp(prefix="deploy_share_")) / "db.sqlite3")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


_DECISION_REF = re.compile(rb'decisionId="([^"=][^"]*)"')
_FORM_REF = re.compile(rb'formId="([^"=][^"]*)"')
_CALLED = re.compile(rb'<(?:\w+:)?calledElement[^>]*processId="([^"=][^"]*)"')
_PROCESS_ID = re.compile(rb'<(?:\w+:)?process\b[^>]*\bid="([^"]+)"')
_DMN_DECISION = re.compile(rb'<(?:\w+:)?decision\b[^>]*\bid="([^"]+)"')


def companions(bpmn: Path) -> tuple[list[Path], list[Path]]:
    """(.dmn/.form files deployed with the file, .bpmn files of called processes deployed before it),
    looked for in the file's own directory by the ids it references."""
    text = bpmn.read_bytes()
    folder = bpmn.parent
    decisions = set(_DECISION_REF.findall(text))
    forms = set(_FORM_REF.findall(text))
    called = set(_CALLED.findall(text)) - set(_PROCESS_ID.findall(text))
    together: list[Path] = []
    for dmn in sorted(folder.glob("*.dmn")):
        if decisions & set(_DMN_DECISION.findall(dmn.read_bytes())):
            together.append(dmn)
    for form in sorted(folder.glob("*.form")):
        try:
            form_id = json.loads(form.read_bytes()).get("id", "")
        except (ValueError, AttributeError):
            continue
        if form_id.encode() in forms:
            together.append(form)
    before = [other for other in sorted(folder.glob("*.bpmn"))
              if other != bpmn and called & set(_PROCESS_ID.findall(other.read_bytes()))]
    return together, before


def without_diagram(text: str) -> str:
    """A .bpmn text without its diagram (the lines from the one opening <bpmndi:BPMNDiagram> to the one closing
    it), ending in one newline: the form the sample's files are kept in (bench/real_world_sample.json), so a file
    fetched from its repository at the listed commit can be checked against the listed sha256."""
    kept, inside = [], False
    for line in text.splitlines():
        if "<bpmndi:BPMNDiagram" in line:
            inside = True
        if not inside:
            kept.append(line)
        if "</bpmndi:BPMNDiagram>" in line:
            inside = False
    return "\n".join(kept) + "\n"


def reason_group(message: str) -> str:
    """A refusal's message without the ids and quoted values that differ from file to file."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", message)
    text = re.sub(r"line \d+|column \d+|\d+", "N", text)
    return text[:160]


class Driver:
    """One tenant, its own clock, generic workers."""

    def __init__(self, name: str, now: datetime):
        from flowsync.models import Tenant

        self.tenant = Tenant.objects.create(tenant_id=f"ds{secrets.token_hex(6)}", name=name[:200])
        self.clock = now

    def now(self) -> datetime:
        self.clock += timedelta(milliseconds=1)
        return self.clock

    def deploy(self, paths: list[Path]) -> list[Any]:
        from engine.definitions.deploy import Resource, deploy

        return deploy(self.tenant, [Resource(p.name, p.read_bytes()) for p in paths], self.now())[1]

    def run(self, definition: Any) -> tuple[str, str]:
        from engine.actions.instances import start_instance
        from engine.actions.jobs import activate_jobs, complete_job
        from engine.actions.user_tasks import complete_user_task
        from engine.models import (
            Incident,
            Job,
            MessageSubscription,
            ProcessInstance,
            SignalSubscription,
            Timer,
            UserTask,
        )
        from engine.runtime.loop import drain
        from engine.timers.firing import fire_due_timers

        tenants = [self.tenant.pk]
        try:
            key = start_instance(self.tenant, definition, {}, "deploy_share", self.now()).key
        except Exception as exc:  # noqa: BLE001 — a start refused is an outcome to report, not a crash
            return "NOT STARTED", f"{type(exc).__name__}: {exc}"[:200]
        drain()
        for _ in range(MAX_ROUNDS):
            if ProcessInstance.objects.get(key=key).state != "ACTIVE":
                break
            if Incident.objects.filter(tenant=self.tenant, state="ACTIVE").exists():
                break
            progressed = False
            open_jobs = Job.objects.filter(tenant=self.tenant, state="ACTIVATABLE")
            for job_type in set(open_jobs.values_list("type", flat=True)):
                for job in activate_jobs(tenants, job_type, "generic", 60_000, 100, self.now()):
                    complete_job(tenants, job.key, {}, "generic", self.now())
                    progressed = True
            for task_key in UserTask.objects.filter(tenant=self.tenant, state="CREATED").values_list("key", flat=True):
                complete_user_task(tenants, task_key, {}, "generic", self.now())
                progressed = True
            drain()
            if progressed:
                continue
            nxt = (Timer.objects.filter(tenant=self.tenant, state="ACTIVE", process_instance_key__isnull=False)
                   .order_by("due_at").values_list("due_at", flat=True).first())
            if nxt is None:
                break
            self.clock = max(self.clock, nxt) + timedelta(milliseconds=1)
            while fire_due_timers(self.clock):
                pass
            drain()
        state = ProcessInstance.objects.get(key=key).state
        incidents = sorted(set(Incident.objects.filter(tenant=self.tenant, state="ACTIVE")
                               .values_list("error_type", flat=True)))
        if incidents:
            return "INCIDENT", ",".join(incidents)
        if state == "COMPLETED":
            return "COMPLETED", ""
        waits = []
        if MessageSubscription.objects.filter(tenant=self.tenant, process_instance_key__isnull=False).exists():
            waits.append("message")
        if SignalSubscription.objects.filter(tenant=self.tenant, process_instance_key__isnull=False).exists():
            waits.append("signal")
        if Timer.objects.filter(tenant=self.tenant, state="ACTIVE", process_instance_key__isnull=False).exists():
            waits.append("timer")
        if Job.objects.filter(tenant=self.tenant, state="ACTIVATABLE").exists():
            waits.append("job")
        return ("WAITING" if state == "ACTIVE" else state), ",".join(waits) or "other"

    def close(self) -> None:
        # Its timer start events must not fire during the next files' runs.
        self.tenant.suspended = True
        self.tenant.save(update_fields=["suspended"])


def run_file(path: Path, root: Path, now: datetime) -> Outcome:
    from engine.bpmn import DefinitionError

    rel = str(path.relative_to(root))
    together, before = companions(path)
    driver = Driver(rel, now)
    try:
        for other in before:
            try:
                driver.deploy([other])
            except DefinitionError:
                pass  # the caller's own run will show the missing callee as an incident
        try:
            definitions = driver.deploy([path, *together])
        except DefinitionError as exc:
            return Outcome(rel, False, [p.message for p in exc.problems] or [str(exc)])
        outcome = Outcome(rel, True)
        for definition in definitions:
            if not _has_none_start(definition):
                outcome.instances.append((definition.bpmn_process_id, "NOT STARTED", "no none start event"))
                continue
            state, detail = driver.run(definition)
            outcome.instances.append((definition.bpmn_process_id, state, detail))
        return outcome
    finally:
        driver.close()


def _has_none_start(definition: Any) -> bool:
    from engine.definitions.cache import graph_of

    return bool(graph_of(definition).start_events(None))


ZEEBE_NS = b"http://camunda.org/schema/zeebe/1.0"


def sample_files(root: Path) -> list[Path]:
    """The .bpmn files that carry the Camunda 8 (zeebe) namespace; the others under DIR are only deployed as
    the callees of those that call them."""
    return [p for p in sorted(root.rglob("*.bpmn")) if ZEEBE_NS in p.read_bytes()]


def run_dir(root: Path) -> list[Outcome]:
    from django.utils import timezone

    now = timezone.now()
    return [run_file(p, root, now) for p in sample_files(root)]


def totals(outcomes: list[Outcome]) -> dict[str, Any]:
    states = Counter(state for o in outcomes for _, state, _ in o.instances)
    # A reason counts once per refused file (a file may repeat it for several elements).
    reasons = Counter(g for o in outcomes if not o.deployed for g in sorted({reason_group(r) for r in o.reasons}))
    details = Counter(f"{state}: {d}" for o in outcomes for _, state, d in o.instances
                      if state not in ("COMPLETED",) and d)
    files = len(outcomes)
    deployed = sum(o.deployed for o in outcomes)
    started = sum(n for s, n in states.items() if s != "NOT STARTED")
    return {
        "files": files,
        "deployed": deployed,
        "refused": files - deployed,
        "instances": dict(states),
        "started": started,
        "completed": states.get("COMPLETED", 0),
        "refusal_reasons": dict(reasons.most_common()),
        "not_completed": dict(details.most_common()),
    }


def main(argv: list[str]) -> None:
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    root = Path(argv[0]).resolve()
    setup_django()
    outcomes = run_dir(root)
    for o in outcomes:
        if not o.deployed:
            print(f"REFUSED   {o.path}: " + " | ".join(o.reasons)[:300])
        else:
            runs = "; ".join(f"{pid} {state}{' (' + d + ')' if d else ''}" for pid, state, d in o.instances)
            print(f"DEPLOYED  {o.path}: {runs}")
    t = totals(outcomes)
    print()
    print(f"files {t['files']}, deployed {t['deployed']} ({100 * t['deployed'] / max(1, t['files']):.1f} %), "
          f"refused {t['refused']}")
    print(f"instances started {t['started']}, completed {t['completed']} "
          f"({100 * t['completed'] / max(1, t['started']):.1f} % of started); by state {t['instances']}")
    print("refusal reasons:")
    for reason, n in t["refusal_reasons"].items():
        print(f"  {n:3d}  {reason}")
    print("not completed:")
    for detail, n in t["not_completed"].items():
        print(f"  {n:3d}  {detail}")
    if "--json" in argv:
        print(json.dumps(t, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
