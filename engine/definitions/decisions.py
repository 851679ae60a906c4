"""DMN resources as deployed decisions: check at deploy (with line and element), store versioned and
deduplicated like processes, find the decision a business rule task calls, evaluate it with a trace
and turn that trace into decision instance rows.

One evaluation service for every caller: the business rule task's step (engine/runtime) and
POST /v2/decision-definitions/evaluation (engine/actions/decisions.py).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from django.conf import settings
from django.db import connection
from lxml import etree

from engine.bpmn import DefinitionError, Problem
from engine.bpmn.xml import local, parse_xml
from engine.definitions.resources import Resource
from engine.dmn import DecisionError, evaluate, parse_dmn
from engine.dmn.model import Decision, DecisionTable, Definitions, Literal, Unsupported, split_ref
from engine.dmn.trace import DecisionRecord, to_json, tracing
from engine.dmn.unary import compile_tests
from engine.expressions import ExpressionError, InvocationError, compile_feel
from engine.keys import next_key
from engine.models import DecisionDefinition, DecisionInstance, DecisionRequirements, Deployment
from flowsync.models import Tenant


def is_dmn_resource(name: str) -> bool:
    return name.lower().endswith(".dmn")


# -- deploy ---------------------------------------------------------------------------------------
def compile_dmn(resource: Resource) -> Definitions:
    """Parse and check a .dmn resource; DefinitionError lists every problem with its element and line."""
    model = parse_dmn(resource.content, resource.name)
    root = parse_xml(resource.content, resource.name)  # again, for the source lines of what is wrong
    problems: list[Problem] = []

    def problem(message: str, el: etree._Element) -> None:
        problems.append(Problem(message, element_id=el.get("id") or el.get("name"), element_kind=local(el.tag),
                                line=el.sourceline))

    if not root.get("id"):
        problem("<definitions> needs an id (it is the decision requirements id)", root)
    decisions = [el for el in root if local(el.tag) == "decision"]
    if not decisions:
        problem("a DMN resource needs at least one <decision>", root)
    ids: set[str] = set()
    for el in decisions:
        decision_id = el.get("id", "")
        if not decision_id:
            problem("a decision needs an id", el)
            continue
        if decision_id in ids:
            problem(f"decision id '{decision_id}' is used twice", el)
        ids.add(decision_id)
        decision = model.decisions.get(decision_id)
        if decision is None or decision.logic is None:
            problem(f"decision '{decision_id}' has no decision logic (a decision table or literal expression)", el)
        elif isinstance(decision.logic, Unsupported):
            problem(f"decision '{decision_id}': {decision.logic.kind} is not supported", el)
        for ref in el.iter("{*}requiredDecision"):
            namespace, _, target = ref.get("href", "").rpartition("#")
            if namespace and namespace != root.get("namespace"):
                continue  # an imported model's decision: check_imports, once every model of the request is read
            if target not in {d.get("id") for d in decisions}:
                problem(f"decision '{decision_id}' requires decision '{target}', which is not in this file", ref)
    for el in root.iter("{*}text"):
        holder = el.getparent()
        if holder is None or local(holder.tag) not in ("literalExpression", "inputExpression", "outputEntry",
                                                       "defaultOutputEntry"):
            continue
        text = (el.text or "").strip()
        if not text:
            continue
        try:
            compile_feel(text, user_functions=True)
        except InvocationError:
            pass  # a call with the wrong arguments is null at run time, as FEEL says
        except ExpressionError as exc:
            problem(f"FEEL expression '{text[:200]}' in <{local(holder.tag)}>: {exc}", holder)
    for el in root.iter("{*}inputEntry"):
        text = (_text_of(el) or "").strip()
        try:
            compile_tests(text)
        except DecisionError as exc:
            problem(f"unary tests '{text[:200]}' in <inputEntry>: {exc}", el)
    cycle = _cycle(model)
    if cycle and not problems:
        problem(f"decisions require each other in a cycle: {' -> '.join(cycle)}", root)
    if problems:
        raise DefinitionError(resource.name, problems)
    return model


def check_imports(tenant: Tenant, models: list[tuple[Resource, Definitions]]) -> None:
    """Every <import> of a model names a model deployed with it or before it for the tenant (by
    namespace), and every decision required from an imported model is in that model."""
    in_request = {model.namespace: model for _, model in models}
    for resource, model in models:
        problems = []
        for imported in model.imports:
            if imported.namespace not in in_request and _latest_with_namespace(tenant.pk, imported.namespace) is None:
                problems.append(Problem(
                    f"<import name=\"{imported.name}\"> names the model '{imported.namespace}', which is neither in "
                    "this deployment nor deployed before", element_kind="import"))
        for decision in model.decisions.values():
            for ref in decision.required_decisions:
                if "#" not in ref:
                    continue
                namespace, target = split_ref(ref)
                if model.imported(namespace) is None:
                    problems.append(Problem(f"decision '{decision.id}' requires '{ref}', but the model does not "
                                            f"<import> the namespace '{namespace}'", element_id=decision.id,
                                            element_kind="decision"))
                    continue
                other = in_request.get(namespace)
                if other is None:
                    key = _latest_with_namespace(tenant.pk, namespace)
                    other = model_of(key)[0] if key is not None else None
                if other is not None and target not in other.decisions:
                    problems.append(Problem(f"decision '{decision.id}' requires decision '{target}', which is not in "
                                            f"the imported model '{namespace}'", element_id=decision.id,
                                            element_kind="decision"))
        if problems:
            raise DefinitionError(resource.name, problems)


_WITH_NAMESPACE = (f"SELECT key FROM {DecisionRequirements._meta.db_table} WHERE tenant_id = %s AND namespace = %s"
                   "{deployment} AND created_at <= %s ORDER BY created_at DESC, key DESC LIMIT 1")
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _latest_with_namespace(tenant_id: int, namespace: str, now: datetime | None = None,
                           deployment_id: int | None = None) -> int | None:
    """The key of the model with this namespace: the one of the deployment when given and there is one,
    else the one deployed last as of `now` (indexed: drg_namespace_idx)."""
    with connection.cursor() as cur:
        if deployment_id is not None:
            cur.execute(_WITH_NAMESPACE.format(deployment=" AND deployment_id = %s"),
                        [tenant_id, namespace, deployment_id, now or _FAR_FUTURE])
            found = cur.fetchone()
            if found is not None:
                return int(found[0])
        cur.execute(_WITH_NAMESPACE.format(deployment=""), [tenant_id, namespace, now or _FAR_FUTURE])
        found = cur.fetchone()
    return None if found is None else int(found[0])


def imported_models(requirements: DecisionRequirements, model: Definitions, now: datetime
                    ) -> dict[str, tuple[Definitions, dict[str, DecisionDefinition]]]:
    """The models a deployed model imports, and theirs, by namespace, with their decision rows: for each
    namespace the model deployed together with the importing one, else the one deployed last as of `now`
    (a replayed step finds the same). One indexed SELECT per namespace; the parsed models are cached."""
    found: dict[str, tuple[Definitions, dict[str, DecisionDefinition]]] = {}
    pending = [imported.namespace for imported in model.imports]
    while pending:
        namespace = pending.pop()
        if namespace in found or namespace == model.namespace:
            continue
        key = _latest_with_namespace(requirements.tenant_id, namespace, now, requirements.deployment_id)
        if key is None:
            continue  # evaluation names the missing model
        found[namespace] = model_of(key)
        pending.extend(imported.namespace for imported in found[namespace][0].imports)
    return found


def _text_of(element: etree._Element) -> str | None:
    found = element.find("{*}text")
    return None if found is None else (found.text or "")


def _cycle(model: Definitions) -> list[str]:
    state: dict[str, int] = {}

    def visit(decision_id: str, path: list[str]) -> list[str]:
        if state.get(decision_id) == 1:
            return [*path, decision_id]
        if state.get(decision_id) == 2 or decision_id not in model.decisions:
            return []
        state[decision_id] = 1
        for required in model.decisions[decision_id].required_decisions:
            found = visit(required, [*path, decision_id])
            if found:
                return found
        state[decision_id] = 2
        return []

    for decision_id in model.decisions:
        found = visit(decision_id, [])
        if found:
            return found
    return []


def decision_type(decision: Decision) -> str:
    if isinstance(decision.logic, DecisionTable):
        return DecisionDefinition.Type.DECISION_TABLE
    if isinstance(decision.logic, Literal):
        return DecisionDefinition.Type.LITERAL_EXPRESSION
    return DecisionDefinition.Type.UNKNOWN


def _lock(tenant: Tenant, kind: str, name: str) -> None:
    if connection.vendor == "postgresql":
        # Serialize concurrent deployments of one id so versions stay gapless and unique.
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"{tenant.pk}:{kind}:{name}".encode())])


def store(tenant: Tenant, deployment: Deployment, resource: Resource, model: Definitions,
          now: datetime) -> tuple[DecisionRequirements, list[DecisionDefinition]]:
    """A new version of the file's decision requirements and of each of its decisions, unless the
    latest version has the same content (then that version stands)."""
    checksum = hashlib.sha256(resource.content).hexdigest()
    _lock(tenant, "drg", model.id)
    latest = (DecisionRequirements.objects.filter(tenant=tenant, decision_requirements_id=model.id)
              .order_by("-version").only("key", "version", "checksum").first())
    if latest is not None and latest.checksum == checksum:
        drg = DecisionRequirements.objects.defer("source").get(key=latest.key)
        return drg, list(drg.decisions.order_by("decision_id"))
    drg = DecisionRequirements.objects.create(
        key=next_key(), tenant=tenant, deployment=deployment, decision_requirements_id=model.id,
        namespace=model.namespace[:1000], name=model.name or model.id,
        version=(latest.version + 1) if latest else 1, resource_name=resource.name, checksum=checksum,
        source=resource.content.decode("utf-8", errors="replace"), created_at=now)
    rows = []
    for decision in sorted(model.decisions.values(), key=lambda d: d.id):
        _lock(tenant, "decision", decision.id)
        previous = (DecisionDefinition.objects.filter(tenant=tenant, decision_id=decision.id)
                    .order_by("-version").values_list("version", flat=True).first())
        rows.append(DecisionDefinition.objects.create(
            key=next_key(), tenant=tenant, requirements=drg, decision_id=decision.id,
            name=decision.name or decision.id, version=(previous or 0) + 1, version_tag=decision.version_tag,
            decision_type=decision_type(decision), created_at=now))
    return drg, rows


# -- the parsed models, cached (deployed decisions never change) -----------------------------------
_models: OrderedDict[int, tuple[Definitions, dict[str, DecisionDefinition]]] = OrderedDict()
_lock_models = Lock()


def model_of(requirements_key: int) -> tuple[Definitions, dict[str, DecisionDefinition]]:
    """The parsed model of a deployed DRG and its decision rows by decision id.

    LRU-cached by key on PostgreSQL, where a key names one deployed file forever; on SQLite (embedded
    mode) a key drawn in a rolled-back transaction is drawn again, so nothing is cached there."""
    cached = connection.vendor == "postgresql"
    with _lock_models:
        found = _models.get(requirements_key) if cached else None
        if found is not None:
            _models.move_to_end(requirements_key)
            return found
    drg = DecisionRequirements.objects.only("source", "resource_name").get(key=requirements_key)
    model = parse_dmn(drg.source.encode(), drg.resource_name)
    rows = {d.decision_id: d for d in DecisionDefinition.objects.filter(requirements_id=requirements_key)
            .select_related("requirements").defer("requirements__source")}
    if not cached:
        return model, rows
    with _lock_models:
        _models[requirements_key] = (model, rows)
        while len(_models) > settings.DEFINITION_CACHE_SIZE:
            _models.popitem(last=False)
    return model, rows


_by_key: OrderedDict[int, DecisionDefinition] = OrderedDict()
_LATEST = (f"SELECT key FROM {DecisionDefinition._meta.db_table} WHERE tenant_id = %s AND decision_id = %s "
           "AND created_at <= %s{tag} ORDER BY version DESC LIMIT 1")


def called_decision(tenant_id: int, decision_id: str, binding: str, version_tag: str,
                    now: datetime) -> DecisionDefinition | None:
    """The version a business rule task calls: the latest deployed as of `now` (so a replay finds the
    same one), or the latest with the given zeebe:versionTag. One indexed SELECT of fixed SQL (this
    runs in engine steps), then the row from the cache."""
    params: list[Any] = [tenant_id, decision_id, now]
    if binding == "versionTag":
        params.append(version_tag)
    with connection.cursor() as cur:
        cur.execute(_LATEST.format(tag=" AND version_tag = %s" if binding == "versionTag" else ""), params)
        found = cur.fetchone()
    return None if found is None else decision_by_key(found[0])


def decision_by_key(key: int) -> DecisionDefinition | None:
    """A decision definition row (with its requirements, without the source); cached on PostgreSQL,
    where a key names one row forever and rows never change."""
    cached = connection.vendor == "postgresql"
    with _lock_models:
        found = _by_key.get(key) if cached else None
    if found is not None:
        return found
    found = (DecisionDefinition.objects.filter(key=key).select_related("requirements")
             .defer("requirements__source").first())
    if found is not None and cached:
        with _lock_models:
            _by_key[key] = found
            while len(_by_key) > settings.DEFINITION_CACHE_SIZE:
                _by_key.popitem(last=False)
    return found


# -- evaluation -----------------------------------------------------------------------------------
@dataclass
class Evaluation:
    definition: DecisionDefinition
    output: Any  # JSON data; None when it failed
    records: list[DecisionRecord]
    failure: str | None = None
    failed: DecisionDefinition | None = None
    row_of: dict[int, DecisionDefinition] = field(default_factory=dict)  # id(parsed Decision) -> its row


def evaluate_definition(definition: DecisionDefinition, variables: Mapping[str, Any],
                        now: datetime) -> Evaluation:
    """Evaluate a deployed decision (and the decisions it requires) against the variables; `now` is
    the clock FEEL's now() and today() read (the step's time in the engine)."""
    model, rows = model_of(definition.requirements_id)
    imported = imported_models(definition.requirements, model, now) if model.imports else {}
    # Decision rows by the parsed decision (ids are unique per model only): the trace names decisions.
    row_of = {id(model.decisions[i]): row for i, row in rows.items() if i in model.decisions}
    for other, other_rows in imported.values():
        row_of.update({id(other.decisions[i]): row for i, row in other_rows.items() if i in other.decisions})
    with tracing() as trace:
        try:
            results = evaluate(model, definition.decision_id, dict(variables), now=now,
                               models={namespace: found for namespace, (found, _) in imported.items()})
        except (DecisionError, ArithmeticError, TypeError, ValueError, RecursionError) as exc:
            failed = row_of.get(id(trace.failed)) if trace.failed is not None else None
            message = str(exc) or type(exc).__name__
            return Evaluation(definition, None, trace.decisions, message, failed or definition, row_of)
    decision = model.decisions[definition.decision_id]
    return Evaluation(definition, to_json(results.get(decision.name)), trace.decisions, row_of=row_of)


def instance_rows(evaluation: Evaluation, evaluation_key: int, now: datetime,
                  **context: Any) -> list[DecisionInstance]:
    """Decision instance rows of one evaluation: one per decision evaluated, then the failed one.

    `context` sets the process columns (process_instance_key, element_instance_key, …) when a
    business rule task evaluated it."""
    definition = evaluation.definition
    common = {"tenant_id": definition.tenant_id, "evaluation_key": evaluation_key, "evaluation_date": now,
              "root_decision_key": definition.key, **context}
    out = []
    for record in evaluation.records:
        row = evaluation.row_of.get(id(record.decision))
        if row is None:
            continue
        out.append(DecisionInstance(index=len(out) + 1, state=DecisionInstance.State.EVALUATED, decision=row,
                                    result=record.result, inputs=record.inputs, matched_rules=record.matched_rules,
                                    **common))
    if evaluation.failure is not None:
        failed = evaluation.failed or definition
        out.append(DecisionInstance(index=len(out) + 1, state=DecisionInstance.State.FAILED, decision=failed,
                                    evaluation_failure=evaluation.failure[:4000], result=None, **common))
    return out
