"""Running conformance processes through the real actions and the engine loop, and reading the outcome."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from engine.actions.instances import start_instance
from engine.actions.jobs import activate_jobs, complete_job
from engine.definitions.deploy import Resource, deploy
from engine.models import ElementInstance, Event, Incident, Job, ProcessDefinition, ProcessInstance, UserTask, Variable
from engine.runtime.loop import drain
from flowsync.models import Tenant

BPMN = Path(__file__).resolve().parent / "bpmn"
DMN = Path(__file__).resolve().parent / "dmn"


class Engine:
    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.clock = timezone.now()

    def now(self):  # type: ignore[no-untyped-def]
        self.clock += timedelta(milliseconds=1)
        return self.clock

    # -- driving ---------------------------------------------------------------------------------
    def deploy(self, *names: str) -> list[ProcessDefinition]:
        resources = [Resource(f"{n}.bpmn", (BPMN / f"{n}.bpmn").read_bytes()) for n in names]
        return deploy(self.tenant, resources, self.now())[1]

    def deploy_with_decisions(self, bpmn: list[str], dmn: list[str]) -> list[ProcessDefinition]:
        """BPMN and DMN files deployed together (one request)."""
        resources = [Resource(f"{n}.bpmn", (BPMN / f"{n}.bpmn").read_bytes()) for n in bpmn]
        resources += [Resource(f"{n}.dmn", (DMN / f"{n}.dmn").read_bytes()) for n in dmn]
        return deploy(self.tenant, resources, self.now())[1]

    def start(self, process_id: str, **variables: Any) -> int:
        definition = ProcessDefinition.objects.filter(tenant=self.tenant, bpmn_process_id=process_id).order_by(
            "-version").first()
        assert definition is not None, f"{process_id} is not deployed"
        instance = start_instance(self.tenant, definition, variables, "test", self.now())
        drain()
        return instance.key

    def jobs(self, job_type: str) -> list[Job]:
        return list(Job.objects.filter(tenant=self.tenant, type=job_type, state="ACTIVATABLE").order_by("key"))

    def complete_jobs(self, job_type: str, variables: dict[str, Any] | None = None, limit: int = 100) -> list[Job]:
        jobs = activate_jobs([self.tenant.pk], job_type, "test", 60_000, limit, self.now())
        for job in jobs:
            complete_job([self.tenant.pk], job.key, variables or {}, "test", self.now())
        drain()
        return jobs

    def answer(self, job_type: str, result: dict[str, Any] | None = None,
               variables: dict[str, Any] | None = None) -> Job:
        """Activate the one job of the type (a listener's) and complete it with a job result (a denial, corrections)."""
        [job] = activate_jobs([self.tenant.pk], job_type, "test", 60_000, 1, self.now())
        complete_job([self.tenant.pk], job.key, variables or {}, "test", self.now(), result=result)
        drain()
        return job

    def job_variables(self, job: Job) -> dict[str, Any]:
        from engine.actions.jobs import variables_for_jobs

        return variables_for_jobs([job], None)[job.key]

    # -- reading ---------------------------------------------------------------------------------
    def instance(self, key: int) -> ProcessInstance:
        return ProcessInstance.objects.get(key=key)

    def state(self, key: int) -> str:
        return self.instance(key).state

    def elements(self, key: int, state: str | None = None) -> list[tuple[str, str]]:
        qs = ElementInstance.objects.filter(process_instance_id=key).order_by("key")
        if state:
            qs = qs.filter(state=state)
        return list(qs.values_list("element_id", "state"))

    def completed(self, key: int) -> Counter[str]:
        return Counter(e for e, _ in self.elements(key, "COMPLETED"))

    def terminated(self, key: int) -> Counter[str]:
        return Counter(e for e, _ in self.elements(key, "TERMINATED"))

    def active(self, key: int) -> Counter[str]:
        return Counter(e for e, _ in self.elements(key, "ACTIVE"))

    def records(self, key: int, intent: str | None = None) -> list[dict[str, Any]]:
        found = [r for e in Event.objects.filter(process_instance_key=key).order_by("id") for r in e.records]
        return [r for r in found if intent is None or r["intent"] == intent]

    def completion_order(self, key: int) -> list[str]:
        return [r["elementId"] for r in self.records(key, "ELEMENT_COMPLETED")]

    def variables(self, key: int) -> dict[str, Any]:
        """The process instance's own (root scope) variables."""
        return dict(Variable.objects.filter(process_instance_id=key, scope_key=key).values_list("name", "value"))

    def all_variables(self, key: int) -> list[tuple[str, str, Any]]:
        """(element id of the scope, name, value) of every variable of the instance."""
        scopes = dict(ElementInstance.objects.filter(process_instance_id=key).values_list("key", "element_id"))
        return sorted((scopes[v.scope_key], v.name, v.value) for v in Variable.objects.filter(process_instance_id=key))

    def incidents(self, key: int) -> list[tuple[str, str, str]]:
        return list(Incident.objects.filter(process_instance_key=key, state="ACTIVE").order_by("key")
                    .values_list("element_id", "error_type", "error_message"))

    def user_tasks(self, key: int) -> list[UserTask]:
        return list(UserTask.objects.filter(process_instance_key=key).order_by("key"))

    def assert_clean_end(self, key: int, state: str = "COMPLETED") -> None:
        """Ended, with no element instance left active and no join tokens left on any scope."""
        assert self.state(key) == state, (self.state(key), self.elements(key), self.incidents(key))
        assert not self.active(key), self.active(key)
        leftovers = [(e.element_id, e.data) for e in ElementInstance.objects.filter(process_instance_id=key)
                     if e.data.get("tokens")]
        assert not leftovers, leftovers
