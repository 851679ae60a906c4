"""`manage.py flowsync <group> <verb>`: the operator's and scripts' command line.

Every verb goes through the same actions and rights as the other surfaces and writes the same
audit entries (via=cli). `--as USER` acts with that person's role in the tenant (refused as on
the API); without it the command acts as the platform (whoever can run it can read the database
anyway, docs/security.md), recorded as `cli:<os user>`. `--json` prints JSON for scripts;
errors exit non-zero with the problem's detail on stderr (a problem+json object with --json).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from engine import rights
from engine.actions.batches import run_batch, start_batch
from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance, find_definition, get_instance, start_instance
from engine.actions.jobs import update_job
from engine.audit import Actor, acting
from engine.bpmn import DefinitionError
from engine.definitions.deploy import Resource, deploy_all
from engine.errors import ActionError, Forbidden, InvalidInput, NotFound
from engine.models import BatchOperation, Incident, Job, ProcessDefinition, ProcessInstance
from engine.rights import Right
from flowsync.models import DEFAULT_TENANT_ID, ApiKey, AuditEntry, Role, Tenant
from flowsync.tenancy import issue_key, revoke_key, rotate_key, set_suspended

VERBS = {
    "deploy": None,
    "definitions": ["list"],
    "instances": ["list", "get", "start", "cancel"],
    "incidents": ["list", "resolve"],
    "jobs": ["list", "retries"],
    "tenants": ["suspend", "resume"],
    "api-keys": ["create", "list", "rotate", "revoke"],
    "audit": ["list"],
}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


class Command(BaseCommand):
    help = "Operate FlowSync: deploy, definitions, instances, incidents, jobs, tenants, api-keys, audit."

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
        parser.add_argument("--variables", default="", help="instances start: a JSON object")
        parser.add_argument("--business-id", default="", help="instances start: the business id")
        parser.add_argument("--definition-version", type=int, default=None, dest="def_version",
                            help="instances start: the definition version (default: latest)")
        parser.add_argument("--retries", type=int, default=None, help="jobs retries: the new retries")
        parser.add_argument("--state", default="", help="instances/incidents/jobs list: filter by state")
        parser.add_argument("--type", default="", dest="job_type", help="jobs list: filter by type")
        parser.add_argument("--name", default="", help="api-keys create: the key's name")
        parser.add_argument("--role", default=Role.INTEGRATOR, choices=[r.value for r in Role],
                            help="api-keys create: the key's role")
        parser.add_argument("--what", default="", help="audit list: filter by what (e.g. instance.cancel)")
        parser.add_argument("--instance", type=int, default=None, help="audit list: one instance's entries")
        parser.add_argument("--limit", type=int, default=50, help="list verbs: at most this many rows")

    def handle(self, *args: str, **options: Any) -> None:
        self.as_json = options["json"]
        group, rest = options["group"], list(args)
        verbs = VERBS[group]
        try:
            if verbs is not None and (not rest or rest[0] not in verbs):
                raise Problem(400, "INVALID_ARGUMENT", f"'{group}' takes one of: {', '.join(verbs)}")
            verb = rest.pop(0) if verbs is not None else ""
            tenant = Tenant.objects.filter(tenant_id=options["tenant"]).first()
            if tenant is None:
                raise Problem(404, "NOT_FOUND", f"no tenant '{options['tenant']}'")
            self.tenant, self.options = tenant, options
            self.actor, self.role = self._who(options["as_user"], tenant)
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

    def _who(self, username: str, tenant: Tenant) -> tuple[Actor, str | None]:
        if not username:
            return Actor(f"cli:{getpass.getuser()}"), Role.ADMIN
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise Problem(404, "NOT_FOUND", f"no user '{username}'")
        return Actor.of_user(user), rights.role_in(user, tenant.pk)

    def _require(self, right: Right, what: str) -> None:
        rights.require(self.role, right, what)

    def _fail(self, problem: Problem) -> None:
        if self.as_json:
            body = {"type": "about:blank", "title": problem.title, "status": problem.status, "detail": problem.detail,
                    **problem.extra}
            sys.stderr.write(json.dumps(body) + "\n")
        else:
            sys.stderr.write(f"error ({problem.status} {problem.title}): {problem.detail}\n")
            for p in problem.extra.get("problems", []):
                where = ", ".join(f"{k} {p[k]}" for k in ("line", "elementId") if p.get(k))
                sys.stderr.write(f"  {problem.extra.get('resource', '')}: {p['message']}"
                                 + (f" ({where})" if where else "") + "\n")
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

    def _batch(self, kind: str, keys: list[int], params: dict | None = None) -> dict[str, Any]:
        """Many keys: one batch, run here and now (the same code the admin's background jobs run)."""
        batch = run_batch(start_batch(self.tenant, self.role, kind, keys, self.actor, params, queue=False).pk)
        return {"batch": batch.pk, "done": batch.done, "skipped": batch.skipped, "failed": batch.failed}

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
        self._require(Right.READ, "read definitions")
        qs = (ProcessDefinition.objects.filter(tenant=self.tenant).defer("source", "graph")
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
            self._require(Right.READ, "read instances")
            qs = ProcessInstance.objects.filter(tenant=self.tenant).select_related("definition").order_by("-key")
            if self.options["state"]:
                qs = qs.filter(state=self.options["state"].upper())
            return [self._instance(i) for i in qs[: self._limit()]]
        if verb == "get":
            self._require(Right.READ, "read instances")
            return self._instance(get_instance(self.tenant, self._keys(rest, "instance")[0]))
        if verb == "start":
            self._require(Right.START, "start instances")
            if len(rest) != 1:
                raise Problem(400, "INVALID_ARGUMENT", "give the process id to start")
            try:
                variables = json.loads(self.options["variables"]) if self.options["variables"] else {}
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"--variables is not valid JSON: {exc.msg}") from None
            definition = find_definition(self.tenant, rest[0], self.options["def_version"])
            instance = start_instance(self.tenant, definition, variables, self.actor, timezone.now(),
                                      business_key=self.options["business_id"])
            return {"processInstanceKey": str(instance.key), "processDefinitionKey": str(definition.key),
                    "version": definition.version, "inspector": f"/inspector/instances/{instance.key}/"}
        keys = self._keys(rest, "instance")
        if len(keys) == 1:
            self._require(Right.OPERATE, "cancel instances")
            cancel_instance(self.tenant, keys[0], self.actor, timezone.now())
            return {"canceled": [str(keys[0])]}
        return self._batch(BatchOperation.Kind.CANCEL_INSTANCES, keys)

    def do_incidents(self, verb: str, rest: list[str]) -> Any:
        if verb == "list":
            self._require(Right.READ, "read incidents")
            qs = Incident.objects.filter(tenant=self.tenant).order_by("-key")
            qs = qs.filter(state=self.options["state"].upper()) if self.options["state"] else qs.filter(state="ACTIVE")
            return [{"key": str(i.key), "type": i.error_type, "state": i.state, "elementId": i.element_id,
                     "processInstanceKey": str(i.process_instance_key), "jobKey": str(i.job_key or ""),
                     "message": i.error_message[:80]} for i in qs[: self._limit()]]
        keys = self._keys(rest, "incident")
        if len(keys) == 1:
            self._require(Right.OPERATE, "resolve incidents")
            resolve_incident([self.tenant.pk], keys[0], self.actor, timezone.now())
            return {"resolved": [str(keys[0])]}
        return self._batch(BatchOperation.Kind.RESOLVE_INCIDENTS, keys)

    def do_jobs(self, verb: str, rest: list[str]) -> Any:
        if verb == "list":
            self._require(Right.READ, "read jobs")
            qs = Job.objects.filter(tenant=self.tenant).order_by("-key")
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
        if len(keys) == 1 and retries >= 0:
            self._require(Right.OPERATE, "change job retries")
            update_job([self.tenant.pk], keys[0], retries, None, self.actor, timezone.now())
            return {"updated": [str(keys[0])], "retries": retries}
        return self._batch(BatchOperation.Kind.RETRY_JOBS, keys, {"retries": retries})

    def do_tenants(self, verb: str, rest: list[str]) -> Any:
        # Suspension is the platform's: only the platform (no --as) or a superuser.
        user = get_user_model().objects.filter(username=self.options["as_user"]).first()
        if self.options["as_user"] and not (user and user.is_superuser):
            raise Forbidden("only platform admins suspend or resume tenants")
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

