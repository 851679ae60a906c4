"""Flow actions: deploy a document, start a run (manually or by webhook), rotate a trigger's secret.

A webhook delivery is checked in this order, and recorded whatever the outcome:
disabled → 404 (410 when the whole flow is deactivated); body over the limit → 413;
authentication (HMAC-SHA256 over `<timestamp>.<body>` within the tolerance window, or a bearer
token; constant-time compares) → 401; rate limit → 429; body not JSON/form → 422; the trigger's
filter false → 200, recorded as filtered, no run; the trigger's input mapping, then the input
against the flow's `inputs` schema → 422; else the run starts → 202 (or, with `respond`, the view
waits for the run's output). A delivery id already started for this trigger → 200 with the first
run: a unique index on (trigger, delivery id) of started deliveries refuses the second start (a
replay racing the original waits for the first insert and fails; the run it created is rolled
back with it), so the common case, a new delivery, needs no look-up first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from psycopg.types.json import Jsonb

from engine import expressions
from engine.actions.incidents import resolve_incident
from engine.actions.instances import cancel_instance, deployed_definition, find_definition, start_instance
from engine.actions.jobs import update_job
from engine.actions.variables import set_variables
from engine.audit import record as audit
from engine.backpressure import backlog, job_lag
from engine.connectors import policy
from engine.definitions.cache import definition as cached_definition
from engine.definitions.cache import graph_of
from engine.definitions.deploy import deploy
from engine.definitions.resources import Resource
from engine.errors import (
    ActionError,
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    Overloaded,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unprocessable,
)
from engine.flows import document
from engine.flows.errors import FlowProblem, pointer
from engine.flows.triggers import new_secret
from engine.flows.validate import expression_text
from engine.keys import next_key
from engine.models import (
    FlowTrigger,
    Incident,
    ProcessDefinition,
    ProcessInstance,
    Timer,
    Variable,
    WebhookDelivery,
)
from engine.store import sql
from engine.store.rows import new_row
from engine.timers import schedule
from flowsync import metrics, ratelimit
from flowsync.models import Tenant

SIGNATURE_HEADER = "X-FlowSync-Signature"
TIMESTAMP_HEADER = "X-FlowSync-Timestamp"
DEFAULT_DELIVERY_HEADER = "X-FlowSync-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300
DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_KEEP_BYTES = 64 * 1024  # a delivery's body is kept (for replay) up to this size
MASKED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", SIGNATURE_HEADER.lower()})
DEFAULT_RESPOND_MS = 10_000
RATE_KEY = "flowsync:ratelimit:webhook:{trigger}"


def deploy_flow(tenant: Tenant, doc: Any, now: datetime) -> ProcessDefinition:
    """Validate and deploy one flow document (a new version unless it equals the latest)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        document.parse("(request)", json.dumps(doc))  # raises with the schema's pointers
    text = json.dumps(doc, indent=2, sort_keys=True).encode()
    return deploy(tenant, [Resource(f"{doc['id']}{document.SUFFIX}", text)], now)[1][0]


def flow_definition(tenant: Tenant, flow_id: str, version: int | None = None) -> ProcessDefinition:
    found = find_definition(tenant, process_id=flow_id, version=version)
    if found.kind != ProcessDefinition.Kind.DAG:
        raise NotFound(f"'{flow_id}' is a BPMN process, not a flow")
    return found


_documents: dict[int, dict[str, Any]] = {}


def _document(definition: ProcessDefinition) -> dict[str, Any]:
    """The deployed document (definitions never change: cached by key, a bounded handful per process)."""
    found = _documents.get(definition.key)
    if found is None or connection.vendor != "postgresql":
        source = (definition.source if "source" in definition.__dict__ and definition.source else
                  ProcessDefinition.objects.values_list("source", flat=True).get(key=definition.key))
        found = json.loads(source)
        if len(_documents) > 256:
            _documents.clear()
        _documents[definition.key] = found
    return found


def check_input(doc: dict[str, Any], value: Any) -> dict[str, Any]:
    """The run's input, checked against the flow's `inputs` schema; problems carry JSON Pointers."""
    if not isinstance(value, dict):
        raise Unprocessable("the input of a run must be a JSON object",
                            problems=[{"pointer": "", "message": "expected an object"}])
    schema = doc.get("inputs")
    if schema:
        try:
            errors = list(Draft202012Validator(schema).iter_errors(value))
        except SchemaError as exc:  # pragma: no cover - deploy checks the schema's shape only loosely
            raise Unprocessable(f"the flow's inputs schema is not valid: {exc.message}") from None
        if errors:
            problems = [FlowProblem(pointer(*e.absolute_path), e.message).as_dict() for e in errors]
            raise Unprocessable("the input does not match the flow's inputs schema", problems=problems)
    return value


def start_run(tenant: Tenant, flow_id: str, value: Any, actor: str, now: datetime,
              version: int | None = None, definition: ProcessDefinition | None = None,
              with_rows: Callable[[int], list[Model]] | None = None) -> ProcessInstance:
    """Start a run of the flow's latest (or `version`; or the given) definition, its input checked;
    `with_rows(key)`: new rows written with it (see start_instance)."""
    if definition is None:
        definition = flow_definition(tenant, flow_id, version)
    variables = check_input(_document(definition), value if value is not None else {})
    return start_instance(tenant, definition, variables, actor, now, with_rows=with_rows)


def rotate_secret(tenant: Tenant, flow_id: str, trigger_id: str, now: datetime) -> FlowTrigger:
    with transaction.atomic():
        trigger = FlowTrigger.objects.select_for_update().filter(
            tenant=tenant, flow_id=flow_id, trigger_id=trigger_id).first()
        if trigger is None:
            raise NotFound(f"flow '{flow_id}' has no trigger '{trigger_id}'")
        trigger.secret, trigger.updated_at = new_secret(), now
        trigger.save(update_fields=["secret", "updated_at"])
    return trigger


def set_trigger_enabled(tenant: Tenant, flow_id: str, trigger_id: str, enabled: bool, now: datetime) -> FlowTrigger:
    """Enable or disable a trigger; a schedule's timer (of the latest version) is canceled or opened again."""
    with transaction.atomic():
        trigger = FlowTrigger.objects.select_for_update().filter(
            tenant=tenant, flow_id=flow_id, trigger_id=trigger_id).first()
        if trigger is None:
            raise NotFound(f"flow '{flow_id}' has no trigger '{trigger_id}'")
        trigger.enabled, trigger.updated_at = enabled, now
        trigger.save(update_fields=["enabled", "updated_at"])
        if trigger.kind == FlowTrigger.Kind.SCHEDULE:
            latest = flow_definition(tenant, flow_id)
            element_id = f"trigger.{trigger_id}"
            timers = Timer.objects.filter(tenant=tenant, process_definition_key=latest.key, element_id=element_id,
                                          process_instance_key__isnull=True, state=Timer.State.ACTIVE)
            if not enabled:
                timers.update(state=Timer.State.CANCELED)
            elif not timers.exists() and element_id in (graph := graph_of(cached_definition(latest.key))).elements:
                cron = graph.elements[element_id].props["event"]["timeCycle"]
                Timer.objects.create(key=next_key(), tenant=tenant, process_instance_key=None,
                                     element_instance_key=None, process_definition_key=latest.key,
                                     element_id=element_id, due_at=schedule.first_due("cycle", cron, now)[0],
                                     repetitions=-1, spec=cron, created_at=now)
    return trigger


def _deactivated(trigger: FlowTrigger) -> bool:
    return not ProcessDefinition.objects.filter(tenant_id=trigger.tenant_id, bpmn_process_id=trigger.flow_id,
                                                kind=ProcessDefinition.Kind.DAG, deactivated=False).exists()


def set_flow_active(tenant_ids: list[int], flow_id: str, active: bool, actor: str, now: datetime) -> int:
    """Deactivate a whole flow (every version refuses new runs, every trigger is disabled, schedules stop;
    its webhooks answer 410) or activate it again (the latest document's triggers are enabled again).
    Running runs go on. Returns the versions changed; audited once per flow."""
    with transaction.atomic():
        versions = ProcessDefinition.objects.select_for_update().filter(
            tenant_id__in=tenant_ids, bpmn_process_id=flow_id, kind=ProcessDefinition.Kind.DAG)
        found = list(versions.order_by("-version").only("key", "tenant_id", "version", "deactivated"))
        if not found:
            raise NotFound(f"no flow '{flow_id}' is deployed")
        tenant_id = found[0].tenant_id
        changed = versions.filter(deactivated=active).update(deactivated=not active)
        tenant = Tenant.objects.get(pk=tenant_id)
        if active:
            declared = {t["id"]: t for t in _document(found[0]).get("triggers", [])}
            for trigger_id, spec in declared.items():
                if spec.get("enabled", True):
                    set_trigger_enabled(tenant, flow_id, trigger_id, True, now)
        else:
            for trigger_id in FlowTrigger.objects.filter(tenant_id=tenant_id, flow_id=flow_id, enabled=True
                                                         ).values_list("trigger_id", flat=True):
                set_trigger_enabled(tenant, flow_id, trigger_id, False, now)
        if changed:
            audit(tenant_id, actor, "flow.activate" if active else "flow.deactivate", target_type="flow",
                  target_key=flow_id, before={"active": not active}, after={"active": active}, now=now)
    return changed


# -- dead letters: runs that failed after their retries (an active incident) ---------------------------


def replay_run(tenant: Tenant, key: int, edited: Any, actor: str, now: datetime) -> int:
    """Run a failed run again from its failed step(s): optional edited variables first, then each failed
    job gets its node's attempts back and its incident is resolved. Returns the incidents resolved."""
    instance = ProcessInstance.objects.filter(tenant=tenant, key=key, definition__kind=ProcessDefinition.Kind.DAG,
                                              state=ProcessInstance.State.ACTIVE).select_related("definition").first()
    if instance is None:
        raise NotFound(f"no running flow execution {key}")
    incidents = list(Incident.objects.filter(process_instance_key=key, state=Incident.State.ACTIVE))
    if not incidents:
        raise Conflict(f"execution {key} has not failed; there is nothing to replay")
    if edited is not None and (not isinstance(edited, dict) or not edited):
        raise InvalidInput("input must be a non-empty JSON object of the variables to change")
    tenant_ids = [tenant.pk]
    doc = _document(instance.definition)
    attempts = {n["id"]: (n.get("retry") or {}).get("max_attempts", 3) for n in doc["nodes"]}
    with transaction.atomic():
        if edited:
            set_variables(tenant_ids, key, edited, False, actor, now)
            graph = graph_of(cached_definition(instance.definition_id))
            root = dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))
            for incident in incidents:
                element = graph.elements.get(incident.element_id)
                inputs = (element.props.get("inputs") if element is not None else None) or []
                if inputs and incident.element_instance_key:
                    # The failed step runs again on the edited input: its input mappings are re-evaluated.
                    local = _mapped(inputs, {**root, **edited}, now)
                    set_variables(tenant_ids, incident.element_instance_key, local, True, actor, now)
        for incident in incidents:
            if incident.job_key is not None and incident.error_type == "JOB_NO_RETRIES":
                update_job(tenant_ids, incident.job_key, attempts.get(incident.element_id, 3), None, actor, now)
            resolve_incident(tenant_ids, incident.key, actor, now)
    return len(incidents)


def _mapped(inputs: list[dict[str, Any]], variables: dict[str, Any], now: datetime) -> dict[str, Any]:
    local: dict[str, Any] = {}
    for mapping in inputs:
        if "value" in mapping:
            value = mapping["value"]
        else:
            source = str(mapping["source"]).strip()
            try:
                if source.startswith("="):
                    value = expressions.compile_feel(source).evaluate({**variables, **local}, now=now)
                elif source.startswith("cel:"):
                    value = expressions.compile_cel(source).evaluate({**variables, **local}, now=now)
                else:
                    value = source
            except (expressions.EvaluationError, expressions.ExpressionError) as exc:
                raise InvalidInput(f"with the edited input, '{mapping['target']}' cannot be computed: {exc}") from None
        name, *path = mapping["target"].split(".")
        if path:
            nested = local.setdefault(name, {})
            for part in path[:-1]:
                nested = nested.setdefault(part, {})
            nested[path[-1]] = value
        else:
            local[name] = value
    return local


def discard_run(tenant: Tenant, key: int, actor: str, now: datetime) -> None:
    if not ProcessInstance.objects.filter(tenant=tenant, key=key, definition__kind=ProcessDefinition.Kind.DAG).exists():
        raise NotFound(f"no flow execution {key}")
    cancel_instance(tenant, key, actor, now)


# -- webhooks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What a webhook request brought, as the view read it."""

    headers: dict[str, str]  # lower-case names
    body: bytes
    content_type: str
    method: str = "POST"
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    status: int  # 202 started, 200 duplicate or filtered
    process_instance_key: int | None
    duplicate: bool
    filtered: bool = False
    # > 0: the trigger answers with the run's output, waiting up to this long (the view waits, after commit).
    respond_ms: int = 0
    tenant_id: int = 0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>." + body): what a sender puts in the header."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _authenticate(trigger: FlowTrigger, delivery: Delivery, now: datetime) -> tuple[str, str] | None:
    """None if the request may run the flow, else (outcome, reason)."""
    if trigger.auth == FlowTrigger.Auth.BEARER:
        given = delivery.headers.get("authorization", "")
        expected = f"Bearer {trigger.secret}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return WebhookDelivery.Outcome.UNAUTHORIZED, "missing or wrong bearer token"
        return None
    if trigger.auth != FlowTrigger.Auth.HMAC:
        return None
    stamp = delivery.headers.get(TIMESTAMP_HEADER.lower(), "")
    given = delivery.headers.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or not given:
        return WebhookDelivery.Outcome.SIGNATURE_BAD, f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    tolerance = int(trigger.config.get("tolerance_seconds", DEFAULT_TOLERANCE_SECONDS))
    if abs(now.timestamp() - int(stamp)) > tolerance:
        return WebhookDelivery.Outcome.SIGNATURE_BAD, f"timestamp outside the {tolerance} s tolerance window"
    if not hmac.compare_digest(given.encode(), signature(trigger.secret, stamp, delivery.body).encode()):
        return WebhookDelivery.Outcome.SIGNATURE_BAD, "signature does not match"
    return None


def _input(delivery: Delivery) -> Any:
    kind = delivery.content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(delivery.body.decode("utf-8", errors="replace"), keep_blank_values=True))
    if not delivery.body.strip():
        return {}
    try:
        return json.loads(delivery.body)
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable("the body must be JSON or form-encoded") from None


def _request_context(delivery: Delivery, body: Any) -> dict[str, Any]:
    """What a trigger's filter and input expressions see."""
    return {"method": delivery.method, "headers": delivery.headers, "query": delivery.query, "body": body}


def _evaluate(text: str, variables: dict[str, Any], now: datetime, what: str) -> Any:
    source = expression_text(text)
    try:
        compiled = expressions.compile_feel(source) if source.startswith("=") else expressions.compile_cel(source)
        return compiled.evaluate(variables, now=now)
    except (expressions.EvaluationError, expressions.ExpressionError) as exc:
        raise Unprocessable(f"the trigger's {what} failed on this delivery: {exc}") from None


def _run_input(trigger: FlowTrigger, delivery: Delivery, now: datetime) -> Any:
    """The run's input from a delivery (the trigger's filter and input mapping); None: filtered out."""
    body = _input(delivery)
    context = _request_context(delivery, body)
    config = trigger.config
    if "filter" in config and _evaluate(config["filter"], context, now, "filter") is not True:
        return None
    if config.get("input"):
        body = {name: _evaluate(text, context, now, f"input '{name}'") for name, text in config["input"].items()}
    return body


def kept_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers a delivery is kept with: authentication values masked (a replay is not re-authenticated)."""
    return {name: (policy.MASK if name in MASKED_HEADERS or policy.secret_name(name) else value[:1000])
            for name, value in headers.items()}


def replay_delivery(tenant_ids: list[int], delivery_pk: int, actor: str, now: datetime) -> WebhookDelivery:
    """Run a recorded delivery again, as an operator: a new run with the kept body and headers (no signature
    check: the operator's right stands for it), recorded as `replayed`; filter and input mapping apply."""
    original = (WebhookDelivery.objects.filter(tenant_id__in=tenant_ids, pk=delivery_pk)
                .select_related("trigger").first())
    if original is None:
        raise NotFound(f"no webhook delivery {delivery_pk}")
    trigger = original.trigger
    if original.body is None:
        raise Conflict(f"delivery {delivery_pk} was not kept ({original.body_bytes} bytes, over the "
                       f"{getattr(settings, 'FLOWSYNC_WEBHOOK_KEEP_BYTES', DEFAULT_KEEP_BYTES)}-byte limit); "
                       "it cannot be replayed")
    if not trigger.enabled:
        raise Conflict(f"trigger '{trigger.trigger_id}' of flow '{trigger.flow_id}' is disabled")
    delivery = Delivery(headers=dict(original.headers), body=bytes(original.body),
                        content_type=original.content_type)
    body = _run_input(trigger, delivery, now)
    if body is None:
        raise Conflict("the trigger's filter does not accept this delivery; nothing to run")
    with transaction.atomic():
        instance = start_run(trigger.tenant, trigger.flow_id, body, actor, now)
        replayed = WebhookDelivery.objects.create(
            tenant_id=trigger.tenant_id, trigger=trigger, received_at=now, delivery_id=original.delivery_id,
            outcome=WebhookDelivery.Outcome.REPLAYED, detail=f"replay of delivery {original.pk} by {actor}"[:1000],
            body_bytes=original.body_bytes, process_instance_key=instance.key, body=original.body,
            headers=original.headers, content_type=original.content_type)
        audit(trigger.tenant_id, actor, "flow.delivery.replay", target_type="webhook-delivery",
              target_key=original.pk, instance_key=instance.key, after={"executionId": str(instance.key)}, now=now)
    return replayed


def _columns(model: type[Any], alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


# A webhook's trigger, its tenant and its flow's latest version in one statement (the ORM's
# look-ups of the trigger and then the definition were a third of a delivery's CPU).
WEBHOOK = None


def _webhook(token: str) -> tuple[FlowTrigger | None, ProcessDefinition | None]:
    """The webhook trigger of this token (with its tenant) and its flow's latest definition, if deployed."""
    global WEBHOOK
    if connection.vendor != "postgresql":
        trigger = FlowTrigger.objects.filter(token=token, kind=FlowTrigger.Kind.WEBHOOK).select_related(
            "tenant").first()
        return trigger, None
    if WEBHOOK is None:
        WEBHOOK = (f"SELECT {_columns(FlowTrigger, 't')}, {_columns(Tenant, 'n')}, d.key, d.deactivated, d.kind "
                   "FROM engine_flowtrigger t JOIN flowsync_tenant n ON n.id = t.tenant_id "
                   "LEFT JOIN LATERAL (SELECT key, deactivated, kind FROM engine_processdefinition "
                   "WHERE tenant_id = t.tenant_id AND bpmn_process_id = t.flow_id ORDER BY version DESC LIMIT 1) d "
                   "ON true WHERE t.token = %s AND t.kind = 'webhook'")
    rows = sql.execute(WEBHOOK, [token])
    if not rows:
        return None, None
    width = len(FlowTrigger._meta.concrete_fields)
    tenant_width = len(Tenant._meta.concrete_fields)
    trigger = sql.rows_to(FlowTrigger, [rows[0][:width]])[0]
    trigger.tenant = sql.rows_to(Tenant, [rows[0][width:width + tenant_width]])[0]
    key, deactivated, kind = rows[0][width + tenant_width:]
    if key is None or kind != ProcessDefinition.Kind.DAG:
        return trigger, None  # start_run looks it up again and says what is wrong
    return trigger, deployed_definition(key, deactivated)


DELIVERY_FIELDS = ("tenant_id", "trigger_id", "received_at", "delivery_id", "outcome", "detail", "body_bytes",
                   "process_instance_key", "body", "headers", "content_type")
INSERT_DELIVERY = (f"INSERT INTO engine_webhookdelivery ({', '.join(DELIVERY_FIELDS)}) "
                   f"VALUES ({', '.join(['%s'] * len(DELIVERY_FIELDS))})")


def receive_webhook(token: str, delivery: Delivery, now: datetime) -> Accepted:
    """Check, record and (at most once per delivery id) start the trigger's flow."""
    trigger, definition = _webhook(token) if token else (None, None)
    if trigger is None or not token:
        raise NotFound("no webhook at this address")
    delivery_id = delivery.headers.get(
        str(trigger.config.get("delivery_id_header", DEFAULT_DELIVERY_HEADER)).lower(), "")[:255]

    keep = len(delivery.body) <= int(getattr(settings, "FLOWSYNC_WEBHOOK_KEEP_BYTES", DEFAULT_KEEP_BYTES))

    def values(outcome: str, detail: str = "", key: int | None = None) -> tuple[Any, ...]:
        return (trigger.tenant_id, trigger.pk, now, delivery_id, outcome, detail[:1000], len(delivery.body), key,
                delivery.body if keep else None, kept_headers(delivery.headers), delivery.content_type[:255])

    def counted(outcome: str) -> None:
        # Counted once it commits: a 'started' rolled back for a duplicate is counted as the duplicate.
        transaction.on_commit(lambda: metrics.webhook_deliveries.labels(
            metrics.tenant_label(trigger.tenant_id), outcome).inc())

    def record(outcome: str, detail: str = "", key: int | None = None) -> None:
        row = values(outcome, detail, key)
        if connection.vendor == "postgresql":
            sql.execute(INSERT_DELIVERY, [*row[:9], Jsonb(row[9]), row[10]])  # the ORM's create cost 2x
        else:
            WebhookDelivery.objects.create(**dict(zip(DELIVERY_FIELDS, row, strict=True)))
        counted(outcome)

    def started(key: int) -> list[Model]:
        """The delivery's record as a row the start writes with its run (one statement on PostgreSQL)."""
        return [new_row(WebhookDelivery, id=None, **dict(zip(DELIVERY_FIELDS, values(
            WebhookDelivery.Outcome.STARTED, "", key), strict=True)))]

    if not trigger.enabled:
        record(WebhookDelivery.Outcome.DISABLED, "the trigger is disabled")
        if _deactivated(trigger):
            raise Gone(f"flow '{trigger.flow_id}' is deactivated; this webhook starts no runs")
        raise NotFound("no webhook at this address")
    limit = int(getattr(settings, "FLOWSYNC_WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES))
    if len(delivery.body) > limit:
        record(WebhookDelivery.Outcome.REJECTED, f"body over {limit} bytes")
        raise TooLarge(f"the body has {len(delivery.body)} bytes; a webhook accepts at most {limit}")
    refused = _authenticate(trigger, delivery, now)
    if refused is not None:
        record(*refused)
        raise Unauthorized(refused[1])
    if trigger.config.get("rate_limit"):
        rate = int(trigger.config["rate_limit"])
        decision = ratelimit.take_key(RATE_KEY.format(trigger=trigger.pk), rate, 2 * rate)
        if not decision.allowed:
            record(WebhookDelivery.Outcome.RATE_LIMITED, f"over {rate} deliveries per second")
            raise RateLimited(f"this webhook takes at most {rate} deliveries per second", decision.retry_after)
    # The API's backpressure rule for new work: a saturated engine refuses new runs (the sender retries
    # after Retry-After) rather than growing a backlog without bound. Recorded with the body: the
    # operator sees what was refused and can replay it.
    overloaded = backlog.refusal(new_work=True)
    if overloaded is None and definition is not None:
        overloaded = job_lag.refusal(trigger.tenant_id, definition)
    if overloaded is not None:
        record(WebhookDelivery.Outcome.REFUSED, overloaded[0])
        raise Overloaded(overloaded[0], overloaded[1])
    def first_run() -> int | None:
        return (WebhookDelivery.objects.filter(trigger=trigger, delivery_id=delivery_id,
                                               outcome=WebhookDelivery.Outcome.STARTED)
                .values_list("process_instance_key", flat=True).first())

    # No look-up of the delivery id first: the unique index refuses a second start (below), so a new
    # delivery — the common case — costs no extra statement and a duplicate costs a rolled-back start.
    config = trigger.config
    respond_ms = int(config.get("respond_timeout_ms", DEFAULT_RESPOND_MS)) if config.get("respond") else 0
    try:
        body = _run_input(trigger, delivery, now)
        if body is None:
            record(WebhookDelivery.Outcome.FILTERED, "the trigger's filter did not accept it")
            return Accepted(200, None, duplicate=False, filtered=True)
        # The run and its delivery record are written together (one statement on PostgreSQL, committed
        # before the 202). The unique index on (trigger, delivery id) of started deliveries settles a
        # race between a delivery and its replay: the second insert waits for the first to commit, then
        # fails, and its run goes with it.
        instance = start_run(trigger.tenant, trigger.flow_id, body, f"webhook:{trigger.trigger_id}", now,
                             definition=definition, with_rows=started)
        counted(WebhookDelivery.Outcome.STARTED)
    except ActionError as exc:
        record(WebhookDelivery.Outcome.REJECTED, exc.detail)
        raise
    except IntegrityError:
        first = first_run()
        record(WebhookDelivery.Outcome.DUPLICATE, "delivery id seen before", first)
        return Accepted(200, first or 0, duplicate=True, tenant_id=trigger.tenant_id)
    return Accepted(202, instance.key, duplicate=False, respond_ms=respond_ms, tenant_id=trigger.tenant_id)
