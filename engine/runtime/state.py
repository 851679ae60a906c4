"""InstanceRun: the in-memory unit of work of one process instance within one batch.

Behaviours and command processors mutate it; the loop flushes every run of a batch
with bulk inserts/updates in one transaction. Nothing here reads the wall clock or
draws a key except through `now` and `keys`, which come with the command.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from engine.graph import Element, Graph
from engine.keys import KeySource
from engine.models import (
    Command,
    DecisionInstance,
    ElementInstance,
    Incident,
    Job,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    SignalSubscription,
    Timer,
    UserTask,
    UserTaskCandidate,
    Variable,
)
from engine.store.rows import new_row
from engine.visibility import scope_chain, visible_variables

ACTIVE = ElementInstance.State.ACTIVE


class InstanceRun:
    # The tables whose rows a run creates or changes (`created`, `dirty`), written by the loop's flush.
    TABLES = ("elements", "variables", "jobs", "incidents", "user_tasks", "timers", "message_subscriptions",
              "signal_subscriptions")

    def __init__(self, instance: ProcessInstance, definition: ProcessDefinition, graph: Graph):
        self.instance = instance
        self.definition = definition
        self.graph = graph
        self.tenant_id = instance.tenant_id
        self.process_element = graph.process_element()
        self.elements: dict[int, ElementInstance] = {}
        self.children: dict[int, set[int]] = {}
        self.variables: dict[int, dict[str, Variable]] = {}
        self.jobs: dict[int, Job] = {}
        self.incidents: dict[int, Incident] = {}
        self.user_tasks: dict[int, UserTask] = {}
        self.created: dict[str, dict[int, Any]] = {t: {} for t in self.TABLES}
        self.dirty: dict[str, dict[int, Any]] = {t: {} for t in self.TABLES}
        self.instance_dirty = False
        self.agenda: deque[tuple[str, Any]] = deque()
        # Activations queued on the agenda per flow scope: tokens in flight still belong to their scope.
        self.inflight: dict[int, int] = {}
        # Rows this run adds beyond its own instance, written by the loop's flush:
        self.candidates: list[UserTaskCandidate] = []  # candidate rows of user tasks created here
        self.closed_tasks: list[int] = []  # user tasks whose candidate rows go
        self.settled_tasks: list[int] = []  # user tasks whose listener transition was decided (waiters woken)
        self.recandidated: list[int] = []  # user tasks whose candidate rows are replaced (corrections, updates)
        self.spawned: list[ProcessInstance] = []  # child instances (call activities)
        self.outbox: list[Command] = []  # commands to other instances (children, parent)
        self.decision_instances: list[DecisionInstance] = []  # decisions business rule tasks evaluated
        self.thrown_signals: list[tuple[str, dict[str, Any], datetime]] = []  # broadcast on flush
        self.refused_messages: list[int] = []  # messages whose hand-over this instance refused: its own again
        # Rows a migration renamed (model, key, {field: value}): element ids and definition keys.
        self.relabels: list[tuple[type, int, dict[str, Any]]] = []
        # Open timers and subscriptions by the element instance that waits (engine/runtime/waits.py).
        self.waits: dict[int, list[tuple[str, Any]]] = {}
        self.timers_by_key: dict[int, Timer] = {}
        self.message_subscriptions_by_key: dict[int, MessageSubscription] = {}
        # Catch events chosen by an event-based gateway complete at once with these variables.
        self.pending_results: dict[str, dict[str, Any]] = {}
        # Set per command by the loop.
        self.now: datetime = instance.start_date
        self.keys: KeySource = KeySource()
        self.records: list[dict[str, Any]] = []
        # Runaway guards (engine/runtime/budget.py): steps of this command's chain before it, and
        # whether the run yielded to a CONTINUE (its other commands in the batch then wait).
        self.chain_steps = 0
        self.yielded = False

    # -- loading ---------------------------------------------------------------------------------
    def load(self, elements: Iterable[ElementInstance], variables: Iterable[Variable], jobs: Iterable[Job],
             incidents: Iterable[Incident] = (), user_tasks: Iterable[UserTask] = ()) -> None:
        for ei in elements:
            self.elements[ei.key] = ei
            if ei.state == ACTIVE and ei.flow_scope_key is not None:
                self.children.setdefault(ei.flow_scope_key, set()).add(ei.key)
        for var in variables:
            self.variables.setdefault(var.scope_key, {})[var.name] = var
        for job in jobs:
            self.jobs[job.key] = job
        for inc in incidents:
            self.incidents[inc.key] = inc
        for task in user_tasks:
            self.user_tasks[task.key] = task

    # -- bookkeeping -----------------------------------------------------------------------------
    def record(self, intent: str, ei: ElementInstance | None = None, **extra: Any) -> None:
        rec: dict[str, Any] = {"intent": intent}
        if ei is not None:
            rec.update(elementId=ei.element_id, elementType=ei.element_type, key=str(ei.key))
        rec.update(extra)
        self.records.append(rec)

    def touch(self, table: str, obj: Any) -> None:
        if obj.pk not in self.created[table]:
            self.dirty[table][obj.pk] = obj

    def element(self, element_id: str) -> Element:
        if element_id == self.graph.process_id:
            return self.process_element
        return self.graph.elements[element_id]

    def scope_of(self, element: Element) -> str:
        return element.parent or self.graph.process_id

    def active_children(self, scope_key: int) -> set[int]:
        return self.children.get(scope_key, set())

    # -- element instances -----------------------------------------------------------------------
    def new_element_instance(self, element: Element, flow_scope_key: int | None, key: int | None = None,
                             element_type: str | None = None) -> ElementInstance:
        ei = new_row(ElementInstance,
            key=key if key is not None else self.keys.take(),
            tenant_id=self.tenant_id,
            process_instance_id=self.instance.key,
            element_id=element.id,
            element_type=element_type or element.type,
            flow_scope_key=flow_scope_key,
            state=ACTIVE,
            start_date=self.now,
            data={},
        )
        self.elements[ei.key] = ei
        self.created["elements"][ei.key] = ei
        if flow_scope_key is not None:
            self.children.setdefault(flow_scope_key, set()).add(ei.key)
        return ei

    def end_element_instance(self, ei: ElementInstance, state: str) -> None:
        ei.state = state
        ei.end_date = self.now
        self.touch("elements", ei)
        if ei.key in self.waits:
            self.close_waits(ei.key)
        if ei.flow_scope_key is not None:
            self.children.get(ei.flow_scope_key, set()).discard(ei.key)

    def close_waits(self, ei_key: int, keep: int | None = None,
                    only: Callable[[Any], bool] | None = None) -> None:
        """Withdraw the open waits (timers, subscriptions) of an element instance that ended (with `only`, those
        of its waits that `only` selects; the others stay open)."""
        for table, row in self.waits.pop(ei_key, []):
            if row.key == keep:
                continue
            if only is not None and not only(row):
                self.waits.setdefault(ei_key, []).append((table, row))
                continue
            if table == "timers" and row.state == Timer.State.ACTIVE:
                row.state = Timer.State.CANCELED
            elif table == "message_subscriptions" and row.state != MessageSubscription.State.DELETED:
                row.state = MessageSubscription.State.DELETED
            elif table == "signal_subscriptions" and row.state == SignalSubscription.State.ACTIVE:
                row.state = SignalSubscription.State.DELETED
            else:
                continue
            self.touch(table, row)

    # -- variables -------------------------------------------------------------------------------
    def scope_chain(self, scope_key: int) -> list[int]:
        """Scope keys from the given scope up to the process instance."""
        return scope_chain(scope_key, self._parent_scope)

    def _parent_scope(self, key: int) -> int | None:
        ei = self.elements.get(key)
        return ei.flow_scope_key if ei is not None else None

    def visible_variables(self, scope_key: int) -> dict[str, Any]:
        return visible_variables(
            self.scope_chain(scope_key),
            lambda key: {name: var.value for name, var in self.variables.get(key, {}).items()},
        )

    def set_local_variable(self, scope_key: int, name: str, value: Any) -> None:
        scope = self.variables.setdefault(scope_key, {})
        var = scope.get(name)
        if var is None:
            var = new_row(Variable, key=self.keys.take(), tenant_id=self.tenant_id,
                          process_instance_id=self.instance.key, scope_key=scope_key, name=name, value=value)
            scope[name] = var
            self.created["variables"][var.key] = var
            self.record("VARIABLE_CREATED", name=name, scopeKey=str(scope_key))
        elif var.value != value:
            var.value = value
            self.touch("variables", var)
            self.record("VARIABLE_UPDATED", name=name, scopeKey=str(scope_key))

    def propagate_variables(self, scope_key: int, values: dict[str, Any]) -> None:
        """Camunda 8 rule: set each on the nearest scope that has it, else on the process instance."""
        chain = self.scope_chain(scope_key)
        for name, value in values.items():
            target = next((k for k in chain if name in self.variables.get(k, {})), self.instance.key)
            self.set_local_variable(target, name, value)

    def send(self, instance_key: int, kind: Command.Kind, payload: dict[str, Any]) -> None:
        """Queue a command to another process instance (a call activity's child or parent)."""
        self.outbox.append(Command(tenant_id=self.tenant_id, process_instance_key=instance_key, kind=kind,
                                   payload=payload, actor="engine", created_at=self.now))

    def element_work(self, ei: ElementInstance) -> dict[str, Any]:
        """The fields a job or user task created at `ei` carries (engine.models.ElementWork)."""
        return {"key": self.keys.take(), "tenant_id": self.tenant_id, "process_instance_key": self.instance.key,
                "element_instance_key": ei.key, "element_id": ei.element_id,
                "process_definition_key": self.definition.key, "bpmn_process_id": self.definition.bpmn_process_id,
                "process_definition_version": self.definition.version}

    # -- jobs and incidents ------------------------------------------------------------------------
    def add_wait(self, table: str, row: Any, ei_key: int, created: bool = True) -> None:
        """Track an open timer/subscription of an element instance (created now, or loaded)."""
        self.waits.setdefault(ei_key, []).append((table, row))
        if table == "timers":
            self.timers_by_key[row.key] = row
        elif table == "message_subscriptions":
            self.message_subscriptions_by_key[row.key] = row
        if created:
            self.created[table][row.key] = row

    def add_job(self, job: Job) -> None:
        self.jobs[job.key] = job
        self.created["jobs"][job.key] = job

    def add_user_task(self, task: UserTask, candidates: list[UserTaskCandidate]) -> None:
        self.user_tasks[task.key] = task
        self.created["user_tasks"][task.key] = task
        self.candidates.extend(candidates)

    def replace_candidates(self, task: UserTask, candidates: list[UserTaskCandidate]) -> None:
        """The task's candidate rows become `candidates` (the old rows are deleted at flush, before inserts)."""
        self.candidates = [c for c in self.candidates if c.task is not task and c.task_id != task.key]
        self.candidates.extend(candidates)
        if task.key not in self.recandidated:
            self.recandidated.append(task.key)

    def add_incident(self, ei: ElementInstance, error_type: str, message: str, job_key: int | None = None) -> Incident:
        inc = new_row(Incident,
            key=self.keys.take(), tenant_id=self.tenant_id, process_instance_key=self.instance.key,
            process_definition_key=self.definition.key, bpmn_process_id=self.definition.bpmn_process_id,
            element_instance_key=ei.key, element_id=ei.element_id, job_key=job_key, error_type=error_type,
            error_message=message[:4000], state=Incident.State.ACTIVE, created_at=self.now,
        )
        self.incidents[inc.key] = inc
        self.created["incidents"][inc.key] = inc
        ei.incident_key = inc.key
        self.touch("elements", ei)
        self.instance.has_incident = True
        self.instance_dirty = True
        self.record("INCIDENT_CREATED", ei, incidentKey=str(inc.key), errorType=error_type, errorMessage=message)
        return inc

    def resolve_incidents_of(self, ei: ElementInstance, reason: str) -> None:
        """Resolve the element instance's active incidents (what they stopped will not be retried)."""
        for inc in self.incidents.values():
            if inc.element_instance_key == ei.key and inc.state == Incident.State.ACTIVE:
                inc.state, inc.resolved_at = Incident.State.RESOLVED, self.now
                self.touch("incidents", inc)
                self.record("INCIDENT_RESOLVED", ei, incidentKey=str(inc.key), reason=reason)
        if ei.incident_key is not None:
            ei.incident_key = None
            self.touch("elements", ei)
        if self.instance.has_incident and not any(i.state == Incident.State.ACTIVE for i in self.incidents.values()):
            self.instance.has_incident = False
            self.instance_dirty = True
