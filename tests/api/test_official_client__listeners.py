"""Execution listeners through the official Camunda 8 Python client, unmodified, against a live FlowSync (real
HTTP, PostgreSQL, Redis and an engine worker process).

listener-order: the process has start and end listeners ("listen-audit"); its service task ("listen-charge")
has a start listener ("listen-prepare", 2 retries) whose variables the task's worker sees, and an end
listener ("listen-audit"). The client's job workers complete every listener job, reading `kind` and
`listenerEventType` from the activated job.

- A: runs through; the audit worker sees PROCESS START, task END, PROCESS END in that order.
- C: the prepare listener fails with no retries left → an EXECUTION_LISTENER_NO_RETRIES incident on the task;
  retries back on the listener job, the incident resolved, the worker completes it and C runs to its end.

listener-approval: a Camunda user task with a completing task listener. The client's worker denies the first
completion (`result.denied`): the client's complete call fails with 409 and the reason, the task is CREATED
again; it accepts the second with a priority correction, and the instance ends with the second completion's
variables.

listener-canceling: a user task with a canceling listener ("listen-cancel-audit") and an interrupting message
boundary event. Cancelled by the client, or interrupted by a message the client publishes, the task is CANCELING
and the instance waits while the listener job is held; the job carries the kind, event, headers, variables and
task; once it completes (with a priority correction) the task is CANCELED and the instance TERMINATED, or the
boundary event taken and the instance COMPLETED.

listener-canceling-caller: calls listener-canceling. Cancelled by the client, or its call activity interrupted by
a message, the parent stays ACTIVE (its call activity too) while the child's canceling listener job is held, and
ends (TERMINATED, or COMPLETED through the boundary event) only once the job completed and the child ended.

listener-assignment: a user task with assigning and updating listeners. The process's assignee goes through
the assigning listener; the client's assign/unassign/update calls wait for the listener and fail with 409 when
it denies (the task unchanged), and see its corrections (assignee, priority, candidate groups) when they return.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from camunda_orchestration_sdk import (
    CamundaAsyncClient,
    CamundaClient,
    Changeset,
    IncidentSearchQuery,
    IncidentSearchQueryFilter,
    JobChangeset,
    JobCompletionRequest,
    JobFailure,
    JobResultCorrections,
    JobResultUserTask,
    JobUpdateRequest,
    MessagePublicationRequest,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
    UserTaskAssignmentRequest,
    UserTaskCompletionRequest,
    UserTaskCompletionRequestVariables,
    UserTaskSearchQuery,
    UserTaskSearchQueryFilter,
    UserTaskUpdateRequest,
    WorkerConfig,
)
from camunda_orchestration_sdk.errors import ConflictError

from engine.models import ElementInstance, ProcessInstance, UserTask, Variable
from tests.api.conftest import official_client_config
from tests.api.test_official_client__end_to_end import BPMN
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 40.0


class ListenerWorkers(threading.Thread):
    """The client's async job workers for the listener and task job types, until stopped."""

    def __init__(self, config: dict[str, str]):
        super().__init__(daemon=True)
        self.config = config
        self.seen: list[tuple[str, str, str, str, str]] = []  # (order, type, kind, listenerEventType, elementId)
        self.prepared_seen: dict[str, Any] = {}
        self.listened: list[Any] = []  # the `userTask` of each task listener job
        self.canceling: list[dict[str, Any]] = []  # what each canceling listener job carried
        self.cancel_gate = threading.Event()  # the canceling listener answers once the test lets it
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.errors: list[BaseException] = []

    def _note(self, job: Any) -> str:
        order = job.variables.to_dict().get("orderId", "?")
        self.seen.append((order, job.type_, job.kind.value, job.listener_event_type.value, job.element_id))
        return order

    async def audit(self, job: Any) -> dict[str, Any]:
        self._note(job)
        return {}

    async def prepare(self, job: Any) -> dict[str, Any]:
        order = self._note(job)
        if order == "C" and sum(1 for s in self.seen if s[0] == "C" and s[1] == "listen-prepare") == 1:
            raise JobFailure("the pricing service is down", retries=0)
        return {"prepared": f"P-{order}"}

    async def charge(self, job: Any) -> dict[str, Any]:
        order = self._note(job)
        self.prepared_seen[order] = job.variables.to_dict().get("prepared")
        return {"charged": True}

    async def approval_check(self, job: Any) -> JobCompletionRequest:
        self._note(job)
        self.listened.append(job.user_task)
        first = sum(1 for s in self.seen if s[1] == "listen-approval-check") == 1
        if first:
            return JobCompletionRequest(result=JobResultUserTask(type_="userTask", denied=True,
                                                                 denied_reason="needs a second look"))
        return JobCompletionRequest(result=JobResultUserTask(type_="userTask", denied=False,
                                                             corrections=JobResultCorrections(priority=90)))

    async def assign_check(self, job: Any) -> JobCompletionRequest:
        self._note(job)
        self.listened.append(job.user_task)
        assignee = job.user_task.assignee
        if assignee == "mallory":
            return JobCompletionRequest(result=JobResultUserTask(type_="userTask", denied=True,
                                                                 denied_reason="mallory may not approve"))
        if assignee == "bob":
            return JobCompletionRequest(result=JobResultUserTask(type_="userTask", corrections=JobResultCorrections(
                assignee="bob.smith", priority=80)))
        return JobCompletionRequest(result=JobResultUserTask(type_="userTask"))

    async def update_check(self, job: Any) -> JobCompletionRequest:
        self._note(job)
        self.listened.append(job.user_task)
        if job.user_task.priority > 95:
            return JobCompletionRequest(result=JobResultUserTask(type_="userTask", denied=True,
                                                                 denied_reason="too urgent"))
        return JobCompletionRequest(result=JobResultUserTask(type_="userTask", corrections=JobResultCorrections(
            candidate_groups=["approvers", "managers"])))

    async def cancel_audit(self, job: Any) -> JobCompletionRequest:
        self._note(job)
        self.canceling.append({"variables": job.variables.to_dict(), "headers": job.custom_headers.to_dict(),
                               "userTask": job.user_task})
        # Held until the test saw that the instance waits for it.
        await asyncio.to_thread(self.cancel_gate.wait, TIMEOUT)
        return JobCompletionRequest(result=JobResultUserTask(type_="userTask",
                                                             corrections=JobResultCorrections(priority=5)))

    async def main(self) -> None:
        async with CamundaAsyncClient(configuration=self.config) as client:
            workers = [
                client.create_job_worker(
                    config=WorkerConfig(job_type=job_type, job_timeout_milliseconds=30_000,
                                        request_timeout_milliseconds=5_000, worker_name="listener-worker"),
                    callback=callback, startup_jitter_max_seconds=0,
                )
                for job_type, callback in (("listen-audit", self.audit), ("listen-prepare", self.prepare),
                                           ("listen-charge", self.charge),
                                           ("listen-approval-check", self.approval_check),
                                           ("listen-assign-check", self.assign_check),
                                           ("listen-update-check", self.update_check),
                                           ("listen-cancel-audit", self.cancel_audit))
            ]
            self.started.set()
            while not self.stop_event.is_set():
                await asyncio.sleep(0.1)
            for worker in workers:
                await worker.aclose()

    def run(self) -> None:
        try:
            asyncio.run(self.main())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            self.started.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.cancel_gate.set()
        self.join(timeout=30)


@contextmanager
def listener_session(live_server, creds, start_worker) -> Iterator[tuple[CamundaClient, ListenerWorkers]]:  # type: ignore[no-untyped-def]
    """An engine worker process and the client's listener workers around an official client; on the
    way out, no worker error and the engine worker still alive."""
    config = official_client_config(live_server.url, creds)
    engine_worker = start_worker()
    workers = ListenerWorkers(config)
    workers.start()
    assert workers.started.wait(30) and not workers.errors, workers.errors
    try:
        with CamundaClient(configuration=config) as client:
            yield client, workers
    finally:
        workers.stop()
    assert not workers.errors, workers.errors
    assert engine_worker.proc.poll() is None, engine_worker.output()


def first_task(client: CamundaClient, key: Any) -> Any:
    """The instance's first user task as the client finds it, or None yet."""
    found = client.search_user_tasks(data=UserTaskSearchQuery(
        filter_=UserTaskSearchQueryFilter(process_instance_key=key))).items
    return found[0] if found else None


def test_the_official_client_works_execution_listener_jobs(live_server, creds, start_worker):
    with listener_session(live_server, creds, start_worker) as (client, workers):
        client.deploy_resources_from_files([BPMN / "listener-order.bpmn"])

        def start(order: str) -> str:
            return client.create_process_instance(data=ProcessCreationById(
                process_definition_id="listener-order",
                variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"orderId": order}),
            )).process_instance_key

        def state(key: str) -> str:
            return client.get_process_instance(key).state.value

        a = start("A")
        wait_for(lambda: state(a) == "COMPLETED", timeout=TIMEOUT)
        assert [s[1:] for s in workers.seen if s[0] == "A"] == [
            ("listen-audit", "EXECUTION_LISTENER", "START", "listener-order"),
            ("listen-prepare", "EXECUTION_LISTENER", "START", "Task_Charge"),
            ("listen-charge", "BPMN_ELEMENT", "UNSPECIFIED", "Task_Charge"),
            ("listen-audit", "EXECUTION_LISTENER", "END", "Task_Charge"),
            ("listen-audit", "EXECUTION_LISTENER", "END", "listener-order"),
        ]
        assert workers.prepared_seen["A"] == "P-A"  # the start listener's variables reach the task's worker

        c = start("C")
        ifilt = IncidentSearchQueryFilter(process_instance_key=c)
        [incident] = wait_for(lambda: client.search_incidents(data=IncidentSearchQuery(filter_=ifilt)).items,
                              timeout=TIMEOUT)
        assert incident.error_type.value == "EXECUTION_LISTENER_NO_RETRIES"
        assert incident.element_id == "Task_Charge" and incident.error_message == "the pricing service is down"
        assert not ElementInstance.objects.filter(process_instance_id=int(c), element_id="EndEvent_1").exists()
        client.update_job(incident.job_key, data=JobUpdateRequest(changeset=JobChangeset(retries=1)))
        client.resolve_incident(incident.incident_key)
        wait_for(lambda: state(c) == "COMPLETED", timeout=TIMEOUT)
        assert [s[1] for s in workers.seen if s[0] == "C"] == [
            "listen-audit", "listen-prepare", "listen-prepare", "listen-charge", "listen-audit", "listen-audit"]
        assert workers.prepared_seen["C"] == "P-C"


def test_the_official_client_denies_and_corrects_through_a_task_listener(live_server, creds, start_worker):
    with listener_session(live_server, creds, start_worker) as (client, workers):
        client.deploy_resources_from_files([BPMN / "listener-approval.bpmn"])
        key = client.create_process_instance(data=ProcessCreationById(
            process_definition_id="listener-approval",
            variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"orderId": "T"}),
        )).process_instance_key
        def task() -> Any:
            return first_task(client, key)

        created = wait_for(task, timeout=TIMEOUT)
        # The call waits for the listener, as Camunda's does: denied, it fails with 409 and the reason.
        with pytest.raises(ConflictError) as denied:
            client.complete_user_task(created.user_task_key, data=UserTaskCompletionRequest(
                variables=UserTaskCompletionRequestVariables.from_dict({"approved": True})))
        assert "needs a second look" in denied.value.content.decode()
        assert task().state.value == "CREATED"  # back in the list, the submitted variables dropped
        assert client.get_process_instance(key).state.value == "ACTIVE"
        client.complete_user_task(created.user_task_key, data=UserTaskCompletionRequest(
            variables=UserTaskCompletionRequestVariables.from_dict({"approved": False})))
        wait_for(lambda: client.get_process_instance(key).state.value == "COMPLETED", timeout=TIMEOUT)
        done = task()
        assert (done.state.value, done.priority) == ("COMPLETED", 90)
        checks = [s for s in workers.seen if s[1] == "listen-approval-check"]
        assert [s[2:4] for s in checks] == [("TASK_LISTENER", "COMPLETING")] * 2
        assert UserTask.objects.get(key=int(created.user_task_key)).priority == 90
        # The listener's job carries its task (Camunda's ActivatedJobResult.userTask).
        assert [(t.user_task_key, t.action, t.candidate_groups, t.priority) for t in workers.listened] == [
            (created.user_task_key, "complete", ["approvers"], 50)] * 2
        assert Variable.objects.get(process_instance_id=int(key), name="approved").value is False


def test_the_official_client_assigns_and_updates_through_task_listeners(live_server, creds, start_worker):
    with listener_session(live_server, creds, start_worker) as (client, workers):
        client.deploy_resources_from_files([BPMN / "listener-assignment.bpmn"])
        key = client.create_process_instance(data=ProcessCreationById(
            process_definition_id="listener-assignment",
            variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"orderId": "U",
                                                                                "requester": "ann"}),
        )).process_instance_key
        def task() -> Any:
            return first_task(client, key)

        # The process's assignee went through the assigning listener.
        first = wait_for(lambda: (t := task()) is not None and t.state.value == "CREATED" and t.assignee == "ann"
                         and t, timeout=TIMEOUT)
        tk = first.user_task_key

        with pytest.raises(ConflictError) as denied:
            client.assign_user_task(tk, data=UserTaskAssignmentRequest(assignee="mallory"))
        assert "mallory may not approve" in denied.value.content.decode()
        assert (task().assignee, task().state.value) == ("ann", "CREATED")

        client.assign_user_task(tk, data=UserTaskAssignmentRequest(assignee="bob"))
        # Answered once the listener agreed: its corrections are there at once.
        assert (task().assignee, task().priority) == ("bob.smith", 80)

        with pytest.raises(ConflictError, match="too urgent"):
            client.update_user_task(tk, data=UserTaskUpdateRequest(changeset=Changeset(priority=99)))
        assert (task().priority, task().candidate_groups) == (80, ["approvers"])
        client.update_user_task(tk, data=UserTaskUpdateRequest(changeset=Changeset(priority=60),
                                                               action="reprioritize"))
        assert (task().priority, task().candidate_groups) == (60, ["approvers", "managers"])

        client.unassign_user_task(tk)
        assert task().assignee is None
        client.complete_user_task(tk, data=UserTaskCompletionRequest(
            variables=UserTaskCompletionRequestVariables.from_dict({"approved": True})))
        wait_for(lambda: client.get_process_instance(key).state.value == "COMPLETED", timeout=TIMEOUT)
        events = [s[3] for s in workers.seen if s[0] == "U"]
        assert events == ["ASSIGNING"] * 3 + ["UPDATING"] * 2 + ["ASSIGNING"]
        # What each listener saw: the action and the attributes the transition changes.
        assert [(t.action, t.assignee, t.changed_attributes) for t in workers.listened
                if t.action in ("assign", "unassign")] == [
            ("assign", "ann", ["assignee"]), ("assign", "mallory", ["assignee"]), ("assign", "bob", ["assignee"]),
            ("unassign", None, ["assignee"])]
        assert [(t.action, t.priority, t.changed_attributes) for t in workers.listened
                if t.action in ("update", "reprioritize")] == [
            ("update", 99, ["priority"]), ("reprioritize", 60, ["priority"])]


def test_the_official_client_sees_a_cancelled_task_wait_for_its_canceling_listener(live_server, creds,
                                                                                   start_worker):
    with listener_session(live_server, creds, start_worker) as (client, workers):
        client.deploy_resources_from_files([BPMN / "listener-canceling.bpmn"])

        def start(order: str) -> Any:
            key = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="listener-canceling",
                variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"orderId": order}),
            )).process_instance_key
            return key, wait_for(lambda: first_task(client, key), timeout=TIMEOUT)

        def state(key: Any) -> str:
            return client.get_process_instance(key).state.value

        key, task = start("X")
        client.cancel_process_instance(key, data=None)  # answered at once, as Camunda's broker does
        wait_for(lambda: len(workers.canceling) == 1, timeout=TIMEOUT)
        # The listener job is held: the task is CANCELING and the instance still there.
        assert first_task(client, key).state.value == "CANCELING"
        assert state(key) == "ACTIVE"
        assert [s[1:] for s in workers.seen if s[0] == "X"] == [
            ("listen-cancel-audit", "TASK_LISTENER", "CANCELING", "Task_Handle")]
        seen = workers.canceling[0]
        assert seen["variables"] == {"orderId": "X"} and seen["headers"] == {"channel": "email"}
        assert (seen["userTask"].user_task_key, seen["userTask"].action, seen["userTask"].candidate_groups) == (
            task.user_task_key, "", ["clerks"])
        workers.cancel_gate.set()
        wait_for(lambda: state(key) == "TERMINATED", timeout=TIMEOUT)
        done = first_task(client, key)
        assert (done.state.value, done.priority) == ("CANCELED", 5)  # the listener's correction is on the task

        workers.cancel_gate.clear()
        key, task = start("Y")
        client.publish_message(data=MessagePublicationRequest(name="escalated", correlation_key="Y"))
        wait_for(lambda: len(workers.canceling) == 2, timeout=TIMEOUT)
        assert first_task(client, key).state.value == "CANCELING"
        assert not ElementInstance.objects.filter(process_instance_id=int(key), element_id="End_Escalated").exists()
        workers.cancel_gate.set()
        wait_for(lambda: state(key) == "COMPLETED", timeout=TIMEOUT)
        assert first_task(client, key).state.value == "CANCELED"
        assert ElementInstance.objects.get(process_instance_id=int(key), element_id="End_Escalated").state == (
            "COMPLETED")


def test_the_official_client_sees_a_call_activity_wait_for_its_childs_canceling_listener(live_server, creds,
                                                                                         start_worker):
    """listener-canceling-caller calls listener-canceling: cancelled, or its call activity interrupted by a
    message, the parent stays ACTIVE while the child's canceling listener job is held, and goes on once the
    client's worker completed it and the child ended."""
    with listener_session(live_server, creds, start_worker) as (client, workers):
        client.deploy_resources_from_files([BPMN / "listener-canceling.bpmn", BPMN / "listener-canceling-caller.bpmn"])

        def start(order: str) -> tuple[Any, int]:
            key = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="listener-canceling-caller",
                variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"orderId": order}),
            )).process_instance_key
            child = wait_for(lambda: ProcessInstance.objects.filter(parent_instance_key=int(key)).first(),
                             timeout=TIMEOUT).key
            wait_for(lambda: first_task(client, child), timeout=TIMEOUT)
            return key, child

        def state(key: Any) -> str:
            return client.get_process_instance(key).state.value

        def held(key: Any, child: int, count: int) -> None:
            wait_for(lambda: len(workers.canceling) == count, timeout=TIMEOUT)
            assert first_task(client, child).state.value == "CANCELING"
            assert (state(key), state(child)) == ("ACTIVE", "ACTIVE")
            call = ElementInstance.objects.get(process_instance_id=int(key), element_id="Call_Handle")
            assert client.get_element_instance(call.key).state.value == "ACTIVE"  # Camunda's API has no TERMINATING

        key, child = start("P")
        client.cancel_process_instance(key, data=None)
        held(key, child, 1)
        workers.cancel_gate.set()
        wait_for(lambda: state(key) == "TERMINATED", timeout=TIMEOUT)
        assert state(child) == "TERMINATED" and first_task(client, child).state.value == "CANCELED"

        workers.cancel_gate.clear()
        key, child = start("Q")
        client.publish_message(data=MessagePublicationRequest(name="recalled", correlation_key="Q"))
        held(key, child, 2)
        assert not ElementInstance.objects.filter(process_instance_id=int(key), element_id="End_Recalled").exists()
        workers.cancel_gate.set()
        wait_for(lambda: state(key) == "COMPLETED", timeout=TIMEOUT)
        assert state(child) == "TERMINATED"
        assert ElementInstance.objects.get(process_instance_id=int(key), element_id="End_Recalled").state == (
            "COMPLETED")
