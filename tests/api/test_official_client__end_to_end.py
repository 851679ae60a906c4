"""The official Camunda 8 Python client, unmodified, drives a live FlowSync: real HTTP, PostgreSQL, Redis and
an RQ engine worker process; once with BASIC credentials, once with OAUTH client credentials.

proof-order: charge (service task, error boundary CARD_DECLINED) → review (user task) → wait for
"order-shipped" (message catch, correlation key = orderId) → end. quick-pay: one service task.

- A (started by id): the job worker fails the charge once with retries left, then completes it; the review is
  completed through the API; a published message correlates; A completes.
- B (started by key): the worker throws CARD_DECLINED; the boundary event catches it; B completes there.
- C: the worker fails with no retries left → an incident; its job gets retries back, the incident is resolved, the
  worker completes the charge; C is cancelled at its review.
- Q (quick-pay, awaitCompletion): the create call returns when the instance completed, with fetched variables.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import (
    CamundaAsyncClient,
    CamundaClient,
    IncidentSearchQuery,
    IncidentSearchQueryFilter,
    JobChangeset,
    JobError,
    JobFailure,
    JobUpdateRequest,
    MessagePublicationRequest,
    MessagePublicationRequestVariables,
    ProcessCreationById,
    ProcessCreationByKey,
    ProcessInstanceCreationInstructionBaseVariables,
    ProcessInstanceSearchQuery,
    ProcessInstanceSearchQueryFilter,
    ProcessInstanceStateExactMatch,
    UserTaskCompletionRequest,
    UserTaskCompletionRequestVariables,
    UserTaskSearchQuery,
    UserTaskSearchQueryFilter,
    VariableSearchQuery,
    VariableSearchQueryFilter,
    WorkerConfig,
)

from engine.models import ElementInstance, Job
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BPMN = Path(__file__).resolve().parent / "bpmn"
TIMEOUT = 40.0


@pytest.fixture(params=["BASIC", "OAUTH"])
def sdk_config(request, live_server, creds) -> dict[str, str]:  # type: ignore[no-untyped-def]
    config = {"CAMUNDA_REST_ADDRESS": live_server.url, "CAMUNDA_AUTH_STRATEGY": request.param,
              "CAMUNDA_SDK_LOG_LEVEL": "error"}
    if request.param == "BASIC":
        config |= {"CAMUNDA_BASIC_AUTH_USERNAME": creds.client_id, "CAMUNDA_BASIC_AUTH_PASSWORD": creds.secret}
    else:
        config |= {"CAMUNDA_CLIENT_ID": creds.client_id, "CAMUNDA_CLIENT_SECRET": creds.secret,
                   "CAMUNDA_OAUTH_URL": f"{live_server.url}/oauth/token", "CAMUNDA_TOKEN_DISK_CACHE_DISABLE": "true"}
    return config


class Workers(threading.Thread):
    """The client's async job workers, in their own event loop, until stopped."""

    def __init__(self, config: dict[str, str]):
        super().__init__(daemon=True)
        self.config = config
        self.attempts: Counter[str] = Counter()
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.errors: list[BaseException] = []

    async def charge(self, job: Any) -> dict[str, Any]:
        order = job.variables.to_dict()["orderId"]
        self.attempts[order] += 1
        attempt = self.attempts[order]
        if order == "A" and attempt == 1:
            raise JobFailure("card service unavailable", retries=job.retries - 1)
        if order == "B":
            raise JobError("CARD_DECLINED", "the card was declined")
        if order == "C" and attempt == 1:
            raise JobFailure("no funds", retries=0)
        return {"charged": True, "attempts": attempt}

    async def pay(self, job: Any) -> dict[str, Any]:
        return {"receipt": "R-" + job.variables.to_dict()["orderId"]}

    async def main(self) -> None:
        async with CamundaAsyncClient(configuration=self.config) as client:
            # The pay worker holds its jobs with a lease: the client stops for good if a lease token is missing.
            workers = [
                client.create_job_worker(
                    config=WorkerConfig(job_type=job_type, job_timeout_milliseconds=30_000,
                                        request_timeout_milliseconds=5_000, worker_name="proof-worker",
                                        with_lease=lease),
                    callback=callback, startup_jitter_max_seconds=0,
                )
                for job_type, callback, lease in (("proof-charge", self.charge, False), ("proof-pay", self.pay, True))
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
        self.join(timeout=30)


def variables(values: dict[str, Any]) -> ProcessInstanceCreationInstructionBaseVariables:
    return ProcessInstanceCreationInstructionBaseVariables.from_dict(values)


def state_of(client: CamundaClient, key: str) -> str:
    return client.get_process_instance(key).state.value


def active_at(key: str, element_id: str) -> bool:
    return ElementInstance.objects.filter(process_instance_id=int(key), element_id=element_id, state="ACTIVE").exists()


def test_the_official_client_drives_flowsync(sdk_config, start_worker):
    engine_worker = start_worker()
    workers = Workers(sdk_config)
    workers.start()
    assert workers.started.wait(30) and not workers.errors, workers.errors
    try:
        with CamundaClient(configuration=sdk_config) as client:
            assert client.get_topology().brokers[0].partitions[0].role.value == "leader"
            deployment = client.deploy_resources_from_files([BPMN / "proof-order.bpmn", BPMN / "quick-pay.bpmn"])
            by_id = {p.process_definition_id: p for p in deployment.processes}
            assert set(by_id) == {"proof-order", "quick-pay"}

            a = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="proof-order", variables=variables({"orderId": "A"}))).process_instance_key
            b = client.create_process_instance(data=ProcessCreationByKey(
                process_definition_key=by_id["proof-order"].process_definition_key,
                variables=variables({"orderId": "B"}))).process_instance_key
            c = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="proof-order", variables=variables({"orderId": "C"}))).process_instance_key

            # awaitCompletion: answered once the worker completed the instance, with the fetched variables.
            q = client.create_process_instance(data=ProcessCreationById(
                process_definition_id="quick-pay", variables=variables({"orderId": "Q"}), await_completion=True,
                request_timeout=30_000, fetch_variables=["receipt"]))
            assert q.variables.to_dict() == {"receipt": "R-Q"}
            assert state_of(client, q.process_instance_key) == "COMPLETED"

            # B: the BPMN error thrown by the worker is caught by the boundary event.
            wait_for(lambda: state_of(client, b) == "COMPLETED", timeout=TIMEOUT)
            assert ElementInstance.objects.filter(process_instance_id=int(b), element_id="End_Declined").exists()
            assert Job.objects.get(process_instance_key=int(b)).state == "ERROR_THROWN"

            # A: failed once with retries left, then completed; its review is completed through the API.
            filt = UserTaskSearchQueryFilter(process_instance_key=a)
            tasks = wait_for(lambda: client.search_user_tasks(data=UserTaskSearchQuery(filter_=filt)).items,
                             timeout=TIMEOUT)
            assert tasks[0].element_id == "Task_Review" and tasks[0].candidate_groups == ["managers"]
            assert workers.attempts["A"] == 2
            assert Job.objects.get(process_instance_key=int(a)).retries == 2
            client.complete_user_task(tasks[0].user_task_key, data=UserTaskCompletionRequest(
                variables=UserTaskCompletionRequestVariables.from_dict({"approved": True})))
            wait_for(lambda: active_at(a, "Wait_Shipped"), timeout=TIMEOUT)
            published = client.publish_message(data=MessagePublicationRequest(
                name="order-shipped", correlation_key="A", time_to_live=60_000,
                variables=MessagePublicationRequestVariables.from_dict({"carrier": "DHL"})))
            assert published.message_key
            wait_for(lambda: state_of(client, a) == "COMPLETED", timeout=TIMEOUT)

            # C: no retries left → an incident; retries back on the job, resolve, the worker completes the charge.
            ifilt = IncidentSearchQueryFilter(process_instance_key=c)
            incidents = wait_for(lambda: client.search_incidents(data=IncidentSearchQuery(filter_=ifilt)).items,
                                 timeout=TIMEOUT)
            incident = incidents[0]
            assert incident.error_type.value == "JOB_NO_RETRIES" and incident.state.value == "ACTIVE"
            assert client.get_process_instance(c).has_incident
            client.update_job(incident.job_key, data=JobUpdateRequest(changeset=JobChangeset(retries=1)))
            client.resolve_incident(incident.incident_key)
            wait_for(lambda: active_at(c, "Task_Review"), timeout=TIMEOUT)
            assert workers.attempts["C"] == 2
            resolved = client.search_incidents(data=IncidentSearchQuery(filter_=ifilt)).items[0]
            assert resolved.state.value == "RESOLVED"
            client.cancel_process_instance(c, data=None)
            wait_for(lambda: state_of(client, c) == "TERMINATED", timeout=TIMEOUT)

            # Searches through the client: instances by state and definition, variables by instance and name.
            completed = ProcessInstanceSearchQueryFilter(
                process_definition_id="proof-order", state=ProcessInstanceStateExactMatch.COMPLETED)
            done = client.search_process_instances(data=ProcessInstanceSearchQuery(filter_=completed))
            assert {i.process_instance_key for i in done.items} == {a, b}
            assert done.page.total_items == 2
            carrier = client.search_variables(data=VariableSearchQuery(filter_=VariableSearchQueryFilter(
                process_instance_key=a, name="carrier"))).items
            assert [v.value for v in carrier] == ['"DHL"']
            everything = client.search_variables(data=VariableSearchQuery(filter_=VariableSearchQueryFilter(
                process_instance_key=a))).items
            assert {v.name for v in everything} >= {"orderId", "charged", "approved", "carrier"}
    finally:
        workers.stop()
    assert not workers.errors, workers.errors
    assert engine_worker.proc.poll() is None, engine_worker.output()
