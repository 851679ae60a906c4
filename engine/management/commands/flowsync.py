"""`manage.py flowsync <group> <verb>`: the operator's and scripts' command line.

Every verb goes through the same actions and rights as the other surfaces and writes the same
audit entries (via=cli). `--as USER` acts with that person's role and per-process grants in the
tenant (engine.rights, refused as on the API); without it the command acts as the platform
(whoever can run it can read the database anyway, docs/security.md), recorded as `cli:<os user>`.
`--json` prints JSON for scripts; errors exit non-zero with the problem's detail on stderr (a
problem+json object with --json).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from engine import rights
from engine.actions.batches import cancel_batch, resume_batch, run_batch, start_batch, suspend_batch
from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance, find_definition, get_instance, start_instance
from engine.actions.jobs import update_job
from engine.actions.migration import check as check_migration
from engine.actions.migration import migrate_instance
from engine.actions.user_tasks import assign_user_task, complete_user_task
from engine.actions.variables import set_variables
from engine.audit import Actor, acting
from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy_all
from engine.errors import ActionError, Forbidden, InvalidInput, NotFound
from engine.migration import prefilled
from engine.models import BatchOperation, Incident, Job, ProcessDefinition, ProcessInstance, UserTask
from engine.queries.instances import instance_variables
from engine.queries.migration import graphs
from engine.queries.tasks import Viewer, find_task
from engine.rights import Right, check_assignment
from flowsync.models import DEFAULT_TENANT_ID, ApiKey, AuditEntry, Role, Tenant
from flowsync.tenancy import create_tenant, issue_key, revoke_key, rotate_key, set_suspended

VERBS = {
    "deploy": None,
    "definitions": ["list"],
    "instances": ["list", "get", "start", "cancel", "variables", "migrate"],
    "incidents": ["list", "resolve"],
    "jobs": ["list", "retries"],
    "tasks": ["list", "claim", "assign", "complete"],
    "tenants": ["create", "suspend", "resume"],
    "api-keys": ["create", "list", "rotate", "revoke"],
    "audit": ["list"],
    "batches": ["list", "get", "cancel", "suspend", "resume"],
}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


class Command(BaseCommand):
    help = ("Operate FlowSync: deploy, definitions, instances, incidents, jobs, tasks, tenants, api-keys, audit, "
            "batches.")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Options may come between the verb's arguments (`deploy --tenant acme a.bpmn b.bpmn`).
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("group", choices=sorted(VERBS))
        parser.add_argument("args", nargs="*", help="verb and its arguments, e.g. `instances cancel KEY…`")
        parser.add_argument("--tenant", default=DEFAULT_TENANT_ID, help="tenant id (default: <default>)")
        parser.add_argument("--as", dest="as_user", default="", help="act as this user, with their role's rights")
        parser.add_argument("--json", action="store_true", help="JSON output for scripts")
        parser.add_argument("--variables", default="",
                            help="instances start / variables, tasks complete: a JSON object")
        parser.add_argument("--business-id", default="", help="instances start: the business id")
        parser.add_argument("--definition-version", type=int, default=None, dest="def_version",
                            help="instances start: the definition version (default: latest)")
        parser.add_argument("--retries", type=int, default=None, help="jobs retries: the new retries")
        parser.add_argument("--state", default="", help="instances/incidents/jobs list: filter by state")
        parser.add_argument("--type", default="", dest="job_type", help="jobs list: filter by type")
        parser.add_argument("--name", default="", help="api-keys create, tenants create: the name")
        parser.add_argument("--assignee", default="", help="tasks assign: who gets the task")
        parser.add_argument("--role", default=Role.INTEGRATOR, choices=[r.value for r in Role],
                            help="api-keys create: the key's role")
        parser.add_argument("--what", default="", help="audit list: filter by what (e.g. instance.cancel)")
        parser.add_argument("--instance", type=int, default=None, help="audit list: one instance's entries")
        parser.add_argument("--limit", type=int, default=50, help="list verbs: at most this many rows")
        parser.add_argument("--target", type=int, default=None,
                            help="instances migrate: the process definition key to migrate to")
        parser.add_argument("--map", action="append", default=[], metavar="SOURCE=TARGET",
                            help="instances migrate: map a source element id to a target one (repeatable); "
                                 "elements whose id and kind match are mapped already")
        parser.add_argument("--dry-run", action="store_true",
                            help="instances migrate: check and print what would happen, change nothing")

    def handle(self, *args: str, **options: Any) -> None:
        self.as_json = options["json"]
        group, rest = options["group"], list(args)
        verbs = VERBS[group]
        try:
            if verbs is not None and (not rest or rest[0] not in verbs):
                raise Problem(400, "INVALID_ARGUMENT", f"'{group}' takes one of: {', '.join(verbs)}")
            verb = rest.pop(0) if verbs is not None else ""
            self.options = options
            if group == "tenants" and verb == "create":
                with acting("cli"):
                    result = self.create_tenant(rest)
                self._print(result)
                return
            tenant = Tenant.objects.filter(tenant_id=options["tenant"]).first()
            if tenant is None:
                raise Problem(404, "NOT_FOUND", f"no tenant '{options['tenant']}'")
            self.tenant = tenant
            self.actor, self.rights, self.user = self._who(options["as_user"], tenant)
            with acting("cli", user_id=getattr(self.actor, "user_id", None)):
                result = getattr(self, f"do_{group.replace('-', '_')}")(verb, rest)
        except DefinitionError as exc:
            self._fail(Problem(400, "INVALID_ARGUMENT", str(exc), resource=exc.resource_name,
                               problems=[p.as_dict() for p in exc.problems]))
        except ActionError as exc:
            self._fail(Problem(exc.status, exc.title, exc.detail, **exc.extra))
        except Problem as exc:
            self._fail(exc)
        self._print(result)

    # -- plumbing ---------------------------------------------------------------------------------

    def _who(self, username: str, tenant: Tenant) -> tuple[Actor, rights.Rights, Any]:
        if not username:
            return Actor(f"cli:{getpass.getuser()}"), rights.Rights(Role.ADMIN), None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise Problem(404, "NOT_FOUND", f"no user '{username}'")
        return Actor.of_user(user), rights.rights_of(user, tenant.pk), user

    @property
    def role(self) -> str | None:
        return self.rights.role

    def _require(self, right: Right, what: str, *, anywhere: bool = False) -> None:
        """The role's right, or (`anywhere`: the verb then checks each target's process) a per-process grant."""
        if not (anywhere and self.rights.anywhere(right)):
            rights.require(self.role, right, what)

    def _require_on(self, right: Right, process_id: str | None, what: str) -> None:
        rights.require_on(self.rights, right, process_id, what)

    def _readable(self, qs: QuerySet, process_field: str) -> QuerySet:
        """Rows of processes the acting user may read (all with the role's READ)."""
        self._require(Right.READ, "read instances, incidents or jobs", anywhere=True)
        processes = self.rights.processes(Right.READ)
        return qs if processes is None else qs.filter(**{f"{process_field}__in": sorted(processes)})

    def _json_option(self, what: str) -> dict[str, Any] | None:
        raw = self.options["variables"]
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--variables is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"--variables must be a JSON object ({what})")
        return value

    def _fail(self, problem: Problem) -> None:
        def err(text: str) -> None:  # self.stderr: call_command(stderr=…) captures it; no colours
            self.stderr.write(text, style_func=lambda x: x)

        if self.as_json:
            body = {"type": "about:blank", "title": problem.title, "status": problem.status, "detail": problem.detail,
                    **problem.extra}
            err(json.dumps(body))
        else:
            err(f"error ({problem.status} {problem.title}): {problem.detail}")
            for p in problem.extra.get("problems", []):
                where = ", ".join(f"{k} {p[k]}" for k in ("line", "elementId") if p.get(k))
                err(f"  {problem.extra.get('resource', '')}: {p['message']}" + (f" ({where})" if where else ""))
        sys.exit(1)

    def _print(self, result: Any) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(result, default=str))
            return
        rows = result if isinstance(result, list) else [result]
        if not rows:
            self.stdout.write("(none)")
            return
        columns = list(rows[0])
        cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        self.stdout.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for row in cells:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())

    def _keys(self, rest: list[str], what: str) -> list[int]:
        if not rest or not all(k.isdigit() for k in rest):
            raise Problem(400, "INVALID_ARGUMENT", f"give one or more {what} keys (numbers)")
        return [int(k) for k in rest]

    def _limit(self) -> int:
        return max(1, min(int(self.options["limit"]), 10_000))

    def _batch(self, kind: str, keys: list[int], processes: dict[int, str], params: dict | None = None
               ) -> dict[str, Any]:
        """Many keys: one batch, run here and now (the same code the admin's background jobs run); keys of
        processes the acting user may not operate on are refused up front (per-process grants)."""
        refused = {str(k): "you may not operate on this process" for k in keys
                   if k in processes and not self.rights.allows_on(Right.OPERATE, processes[k])}
        mine = [k for k in keys if str(k) not in refused]
        batch = run_batch(start_batch(self.tenant, self.rights, kind, mine, self.actor, params, queue=False).pk)
        return {"batch": batch.pk, "done": batch.done, "skipped": batch.skipped, "failed": {**batch.failed, **refused}}

    # -- verbs ------------------------------------------------------------------------------------

    def do_deploy(self, verb: str, rest: list[str]) -> list[dict[str, Any]]:
        self._require(Right.DEPLOY, "deploy")
        if not rest:
            raise Problem(400, "INVALID_ARGUMENT", "give one or more files to deploy")
        resources = []
        for name in rest:
            path = Path(name)
            if not path.is_file():
                raise Problem(400, "INVALID_ARGUMENT", f"no such file: {name}")
            resources.append(Resource(path.name, path.read_bytes()))
        deployed = deploy_all(self.tenant, resources, timezone.now(), self.actor)
        deployment = deployed.deployment
        return [{"deploymentKey": str(deployment.key), "processDefinitionKey": str(d.key),
                 "processDefinitionId": d.bpmn_process_id, "version": d.version, "resource": d.resource_name}
                for d in deployed.processes] + [
                {"deploymentKey": str(deployment.key), "decisionDefinitionKey": str(d.key),
                 "decisionDefinitionId": d.decision_id, "version": d.version, "resource": r.resource_name}
                for r, rows in deployed.decisions for d in rows]

    def do_definitions(self, verb: str, rest: list[str]) -> list[dict[str, Any]]:
        qs = self._readable(ProcessDefinition.objects.filter(tenant=self.tenant), "bpmn_process_id")
        qs = (qs.defer("source", "graph")
              .order_by("bpmn_process_id", "-version")[: self._limit()])
        return [{"key": str(d.key), "processDefinitionId": d.bpmn_process_id, "version": d.version, "name": d.name,
                 "deactivated": d.deactivated} for d in qs]

    @staticmethod
    def _instance(i: ProcessInstance) -> dict[str, Any]:
        return {"key": str(i.key), "processDefinitionId": i.definition.bpmn_process_id,
                "version": i.definition.version, "businessId": i.business_key, "state": i.state,
                "incident": i.has_incident, "startDate": i.start_date.isoformat() if i.start_date else None,
                "endDate": i.end_date.isoformat() if i.end_date else None}

    def do_instances(self, verb: str, rest: list[str]) -> Any:
        if verb == "list":
            qs = self._readable(ProcessInstance.objects.filter(tenant=self.tenant), "definition__bpmn_process_id")
            qs = qs.select_related("definition").order_by("-key")
            if self.options["state"]:
                qs = qs.filter(state=self.options["state"].upper())
            return [self._instance(i) for i in qs[: self._limit()]]
        if verb == "get":
            instance = get_instance(self.tenant, self._keys(rest, "instance")[0])
            self._require(Right.READ, "read instances", anywhere=True)
            self._require_on(Right.READ, instance.definition.bpmn_process_id, "read instances")
            return self._instance(instance)
        if verb == "variables":
            return self._variables(self._keys(rest, "instance")[0])
        if verb == "start":
            self._require(Right.START, "start instances", anywhere=True)
            if len(rest) != 1:
                raise Problem(400, "INVALID_ARGUMENT", "give the process id to start")
            variables = self._json_option("instances start") or {}
            definition = find_definition(self.tenant, rest[0], self.options["def_version"])
            self._require_on(Right.START, definition.bpmn_process_id, "start instances")
            instance = start_instance(self.tenant, definition, variables, self.actor, timezone.now(),
                                      business_key=self.options["business_id"])
            return {"processInstanceKey": str(instance.key), "processDefinitionKey": str(definition.key),
                    "version": definition.version, "inspector": f"/inspector/instances/{instance.key}/"}
        if verb == "migrate":
            return self._migrate(self._keys(rest, "instance"))
        keys = self._keys(rest, "instance")
        self._require(Right.OPERATE, "cancel instances", anywhere=True)
        processes = dict(ProcessInstance.objects.filter(tenant=self.tenant, key__in=keys)
                         .values_list("key", "definition__bpmn_process_id"))
        if len(keys) == 1:
            self._require_on(Right.OPERATE, processes.get(keys[0]), "cancel instances")
            cancel_instance(self.tenant, keys[0], self.actor, timezone.now())
            return {"canceled": [str(keys[0])]}
        return self._batch(BatchOperation.Kind.CANCEL_INSTANCES, keys, processes)

    def _migrate(self, keys: list[int]) -> Any:
        """`instances migrate KEY… --target DEFINITION_KEY [--map SRC=TGT]… [--dry-run]`: elements whose id and
        kind the target has too are mapped already (as in the Inspector's form); one key migrates here and now,
        several are one migrate-instances batch."""
        self._require(Right.OPERATE, "migrate process instances", anywhere=True)
        target_key = self.options["target"]
        if target_key is None:
            raise Problem(400, "INVALID_ARGUMENT", "give the process definition key to migrate to with --target KEY")
        explicit: dict[str, str] = {}
        for item in self.options["map"]:
            source, sep, target = item.partition("=")
            if not sep or not source.strip() or not target.strip():
                raise Problem(400, "INVALID_ARGUMENT", f"--map takes SOURCE=TARGET element ids, not '{item}'")
            explicit[source.strip()] = target.strip()
        found = {i.key: i for i in ProcessInstance.objects.filter(tenant=self.tenant, key__in=keys)
                 .select_related("definition")}
        processes = {k: i.definition.bpmn_process_id for k, i in found.items()}
        target = ProcessDefinition.objects.filter(tenant=self.tenant, key=target_key).only("key").first()
        if target is None:
            raise NotFound(f"no process definition with key {target_key} to migrate to")
        sources = {i.definition.key for i in found.values()} - {target.key}  # those on it already: skipped
        if len(sources) > 1:
            raise InvalidInput("a migration moves instances of one process version; these are of "
                               f"{len(sources)} versions (migrate each version's instances on its own)")
        mapping = {**(prefilled(*graphs(sources.pop(), target.key)) if sources else {}), **explicit}
        pairs = sorted(mapping.items())
        if self.options["dry_run"]:
            out = []
            for key in keys:
                self._require_on(Right.OPERATE, processes.get(key), "migrate process instances")
                _, _, steps = check_migration([self.tenant.pk], key, target.key, pairs)
                out += [{"processInstanceKey": str(key), "elementInstanceKey": str(step.key),
                         "sourceElementId": step.source_element_id, "targetElementId": step.target_element_id}
                        for step in steps]
            return out
        if len(keys) == 1:
            self._require_on(Right.OPERATE, processes.get(keys[0]), "migrate process instances")
            migrate_instance([self.tenant.pk], keys[0], target.key, pairs, self.actor, timezone.now())
            return {"migrated": [str(keys[0])], "targetProcessDefinitionKey": str(target.key)}
        return self._batch(BatchOperation.Kind.MIGRATE_INSTANCES, keys, processes, {
            "targetProcessDefinitionKey": str(target.key),
            "mappingInstructions": [{"sourceElementId": s, "targetElementId": t} for s, t in pairs]})

    def _variables(self, key: int) -> dict[str, Any]:
        """`instances variables KEY`: the instance's own variables; with --variables JSON, set them first."""
        instance = get_instance(self.tenant, key)
        process_id = instance.definition.bpmn_process_id
        changes = self._json_option("instances variables")
        if changes is not None:
            self._require(Right.OPERATE, "set variables", anywhere=True)
            self._require_on(Right.OPERATE, process_id, "set variables")
            set_variables([self.tenant.pk], key, changes, True, self.actor, timezone.now())
            return {"processInstanceKey": str(key), "set": sorted(changes)}
        self._require(Right.READ, "read variables", anywhere=True)
        self._require_on(Right.READ, process_id, "read variables")
        return {"processInstanceKey": str(key), "variables": instance_variables(key)}

    def do_incidents(self, verb: str, rest: list[str]) -> Any:
        if verb == "list":
            qs = self._readable(Incident.objects.filter(tenant=self.tenant), "bpmn_process_id").order_by("-key")
            qs = qs.filter(state=self.options["state"].upper()) if self.options["state"] else qs.filter(state="ACTIVE")
            return [{"key": str(i.key), "type": i.error_type, "state": i.state, "elementId": i.element_id,
                     "processInstanceKey": str(i.process_instance_key), "jobKey": str(i.job_key or ""),
                     "message": i.error_message[:80]} for i in qs[: self._limit()]]
        keys = self._keys(rest, "incident")
        self._require(Right.OPERATE, "resolve incidents", anywhere=True)
        processes = dict(Incident.objects.filter(tenant=self.tenant, key__in=keys)
                         .values_list("key", "bpmn_process_id"))
        if len(keys) == 1:
            self._require_on(Right.OPERATE, processes.get(keys[0]), "resolve incidents")
            resolve_incident([self.tenant.pk], keys[0], self.actor, timezone.now())
            return {"resolved": [str(keys[0])]}
        return self._batch(BatchOperation.Kind.RESOLVE_INCIDENTS, keys, processes)

    def do_jobs(self, verb: str, rest: list[str]) -> Any:
        if verb == "list":
            qs = self._readable(Job.objects.filter(tenant=self.tenant), "bpmn_process_id").order_by("-key")
            if self.options["state"]:
                qs = qs.filter(state=self.options["state"].upper())
            if self.options["job_type"]:
                qs = qs.filter(type=self.options["job_type"])
            return [{"key": str(j.key), "type": j.type, "state": j.state, "retries": j.retries, "worker": j.worker,
                     "deadline": j.deadline.isoformat() if j.deadline else None,
                     "processInstanceKey": str(j.process_instance_key)} for j in qs[: self._limit()]]
        retries = self.options["retries"]
        if retries is None:
            raise Problem(400, "INVALID_ARGUMENT", "give the new retries with --retries N")
        keys = self._keys(rest, "job")
        self._require(Right.OPERATE, "change job retries", anywhere=True)
        processes = dict(Job.objects.filter(tenant=self.tenant, key__in=keys).values_list("key", "bpmn_process_id"))
        if len(keys) == 1 and retries >= 0:
            self._require_on(Right.OPERATE, processes.get(keys[0]), "change job retries")
            update_job([self.tenant.pk], keys[0], retries, None, self.actor, timezone.now())
            return {"updated": [str(keys[0])], "retries": retries}
        return self._batch(BatchOperation.Kind.RETRY_JOBS, keys, processes, {"retries": retries})

    # -- user tasks: the acting person as the Tasklist and the API see them (engine.queries.tasks.Viewer) --

    def _viewer(self) -> Viewer:
        if self.user is None:  # the platform: every task of the tenant
            return Viewer(tenant_id=self.tenant.pk, username=str(self.actor), can_see_all=True)
        self._require(Right.WORK_TASKS, "work user tasks", anywhere=True)
        return Viewer(tenant_id=self.tenant.pk, username=self.user.get_username(),
                      groups=tuple(sorted(self.user.groups.values_list("name", flat=True))),
                      can_see_all=rights.manages_tasks(self.user, self.role),
                      processes=self.rights.grants.get(Right.WORK_TASKS, frozenset()),
                      works=self.rights.allows(Right.WORK_TASKS))

    def _task(self, viewer: Viewer, rest: list[str]) -> UserTask:
        key = self._keys(rest, "user task")[0]
        task = find_task(viewer, key)
        if task is None:
            raise NotFound(f"no user task with key {key}")
        return task

    def do_tasks(self, verb: str, rest: list[str]) -> Any:
        viewer = self._viewer()
        if verb == "list":
            qs = UserTask.objects.filter(viewer.visible()).order_by("-key")
            qs = qs.filter(state=self.options["state"].upper()) if self.options["state"] else qs.filter(state="CREATED")
            return [{"key": str(t.key), "name": t.name, "processDefinitionId": t.bpmn_process_id,
                     "elementId": t.element_id, "state": t.state, "assignee": t.assignee,
                     "candidateGroups": ",".join(t.candidate_groups or []),
                     "processInstanceKey": str(t.process_instance_key)} for t in qs[: self._limit()]]
        task, now = self._task(viewer, rest), timezone.now()
        if verb == "complete":
            complete_user_task([self.tenant.pk], task.key, self._json_option("tasks complete") or {}, self.actor, now,
                               as_user=None if viewer.can_see_all else viewer.username)
            return {"completed": str(task.key)}
        if verb == "claim":
            if self.user is None:
                raise Problem(400, "INVALID_ARGUMENT", "claim takes the person who claims: --as USER")
            assignee = viewer.username
        else:
            assignee = self.options["assignee"]
            if not assignee:
                raise Problem(400, "INVALID_ARGUMENT", "give who gets the task with --assignee NAME")
        override = check_assignment(viewer.can_see_all, viewer.username, assignee, task.assignee,
                                    viewer.can_claim(task))
        assign_user_task([self.tenant.pk], task.key, assignee, self.actor, now,
                         allow_override=override and verb == "assign")
        return {"userTaskKey": str(task.key), "assignee": assignee}

    def _platform_only(self, what: str) -> None:
        user = get_user_model().objects.filter(username=self.options["as_user"]).first()
        if self.options["as_user"] and not (user and user.is_superuser):
            raise Forbidden(f"only platform admins {what}")

    def create_tenant(self, rest: list[str]) -> dict[str, Any]:
        """`tenants create --tenant T [--name N]`: the platform's act (no --as, or a superuser's)."""
        self._platform_only("create tenants")
        user = get_user_model().objects.filter(username=self.options["as_user"]).first()
        actor = Actor.of_user(user) if user else Actor(f"cli:{getpass.getuser()}")
        if Tenant.objects.filter(tenant_id=self.options["tenant"]).exists():
            raise Problem(409, "ALREADY_EXISTS", f"tenant '{self.options['tenant']}' exists already")
        try:
            tenant = create_tenant(self.options["tenant"], self.options["name"] or self.options["tenant"], actor)
        except ValueError as exc:
            raise Problem(400, "INVALID_ARGUMENT", str(exc)) from None
        return {"tenant": tenant.tenant_id, "name": tenant.name}

    def do_tenants(self, verb: str, rest: list[str]) -> Any:
        # Suspension is the platform's: only the platform (no --as) or a superuser.
        self._platform_only("suspend or resume tenants")
        changed = set_suspended(self.tenant, verb == "suspend", self.actor)
        return {"tenant": self.tenant.tenant_id, "suspended": self.tenant.suspended, "changed": changed}

    def _key(self, rest: list[str]) -> ApiKey:
        key = ApiKey.objects.filter(tenant=self.tenant, client_id=rest[0] if rest else "").first()
        if key is None:
            raise NotFound(f"no API key '{rest[0] if rest else ''}' in tenant '{self.tenant.tenant_id}'")
        return key

    def do_api_keys(self, verb: str, rest: list[str]) -> Any:
        self._require(Right.ADMINISTER, "manage API keys")
        if verb == "list":
            return [{"clientId": k.client_id, "name": k.name, "role": k.role, "createdAt": k.created_at.isoformat(),
                     "lastUsedAt": k.last_used_at.isoformat() if k.last_used_at else None,
                     "revokedAt": k.revoked_at.isoformat() if k.revoked_at else None}
                    for k in ApiKey.objects.filter(tenant=self.tenant).order_by("created_at")[: self._limit()]]
        if verb == "create":
            if not self.options["name"]:
                raise Problem(400, "INVALID_ARGUMENT", "give the key's name with --name")
            key, secret = issue_key(self.tenant, self.options["name"], self.options["role"], self.actor)
            return {"clientId": key.client_id, "clientSecret": secret, "role": key.role}
        key = self._key(rest)
        if verb == "rotate":
            if key.revoked_at is not None:
                raise Problem(409, "INVALID_STATE", f"API key '{key.client_id}' is revoked")
            return {"clientId": key.client_id, "clientSecret": rotate_key(key, self.actor)}
        return {"clientId": key.client_id, "revoked": revoke_key(key, self.actor)}

    def do_audit(self, verb: str, rest: list[str]) -> list[dict[str, Any]]:
        self._require(Right.READ, "read the audit trail")
        qs = AuditEntry.objects.filter(tenant=self.tenant)
        if self.options["what"]:
            qs = qs.filter(what=self.options["what"])
        if self.options["instance"] is not None:
            qs = qs.filter(process_instance_key=self.options["instance"])
        return [{"id": e.id, "when": e.created_at.isoformat(), "who": e.who, "via": e.via, "what": e.what,
                 "target": f"{e.target_type}:{e.target_key}", "requestId": e.request_id}
                for e in qs.order_by("-id")[: self._limit()]]

    @staticmethod
    def _batch_row(b: BatchOperation) -> dict[str, Any]:
        return {"key": str(b.pk), "kind": b.kind, "state": b.state, "items": len(b.keys), "done": len(b.done),
                "skipped": len(b.skipped), "failed": len(b.failed), "actor": b.actor, "via": b.via,
                "createdAt": b.created_at.isoformat(),
                "finishedAt": b.finished_at.isoformat() if b.finished_at else None}

    def do_batches(self, verb: str, rest: list[str]) -> Any:
        """Batch operations of every surface (admin, Inspector, API, CLI): list, one with its outcome per
        item, and the same steering as the Inspector's batch page (engine/actions/batches.py checks OPERATE)."""
        qs = BatchOperation.objects.filter(tenant=self.tenant)
        if verb == "list":
            self._require(Right.READ, "read batch operations")
            if self.options["state"]:
                qs = qs.filter(state=self.options["state"].upper())
            return [self._batch_row(b) for b in qs.order_by("-id")[: self._limit()]]
        key = self._keys(rest, "batch operation")[0]
        batch = qs.filter(pk=key).first()
        if batch is None:
            raise NotFound(f"no batch operation {key}")
        if verb == "get":
            self._require(Right.READ, "read batch operations")
            return {**self._batch_row(batch), "params": batch.params, "selection": batch.selection,
                    "skippedItems": batch.skipped, "failedItems": batch.failed}
        steer = {"cancel": cancel_batch, "suspend": suspend_batch, "resume": resume_batch}[verb]
        steer(batch, self.role, self.actor)
        return self._batch_row(batch)
