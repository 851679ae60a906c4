"""Compensation through the official Camunda 8 Python camunda, unmodified, against a live FlowSync (real HTTP,
PostgreSQL, Redis and an engine worker process).

compensation-trip.bpmn (the conformance file): book hotel → book flight → charge card; the card's job worker
throws PAYMENT_FAILED, the error boundary leads to a compensation throw event, which invokes "cancel flight"
and "cancel hotel" (the flight, booked last, first) with their input mappings, waits for both, then ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import (
    CamundaClient,
    ElementInstanceSearchQuery,
    ElementInstanceSearchQueryFilter,
    JobActivationRequest,
    JobCompletionRequest,
    JobCompletionRequestVariables,
    JobErrorRequest,
    ProcessCreationById,
    ProcessInstanceCreationInstructionBaseVariables,
    VariableSearchQuery,
    VariableSearchQueryFilter,
)

from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TRIP = Path(__file__).resolve().parents[1] / "engine" / "conformance" / "bpmn" / "compensation-trip.bpmn"
TIMEOUT = 30.0


def one_job(camunda: CamundaClient, job_type: str) -> Any:
    """Activate the one job of a type, waiting for the engine to create it."""
    found: list[Any] = []

    def activated() -> bool:
        found.extend(camunda.activate_jobs(data=JobActivationRequest(
            type_=job_type, timeout=30_000, max_jobs_to_activate=1, request_timeout=2_000)).jobs)
        return bool(found)

    wait_for(activated, TIMEOUT)
    return found[0]


def complete(camunda: CamundaClient, job: Any, **values: Any) -> None:
    camunda.complete_job(job.job_key, data=JobCompletionRequest(
        variables=JobCompletionRequestVariables.from_dict(values)))


def test_a_declined_card_compensates_the_bookings_through_the_official_client(camunda, start_worker):
    start_worker()
    camunda.deploy_resources_from_files([TRIP])
    key = camunda.create_process_instance(data=ProcessCreationById(
        process_definition_id="trip-booking",
        variables=ProcessInstanceCreationInstructionBaseVariables.from_dict({"trip": "Lisbon"}))).process_instance_key
    complete(camunda, one_job(camunda, "book-hotel"), hotelBooking="H-1")
    complete(camunda, one_job(camunda, "book-flight"), flightBooking="F-7")
    charge = one_job(camunda, "charge-card")
    camunda.throw_job_error(charge.job_key, data=JobErrorRequest(error_code="PAYMENT_FAILED",
                                                                error_message="card declined"))

    flight = one_job(camunda, "cancel-flight")
    hotel = one_job(camunda, "cancel-hotel")
    assert flight.variables.to_dict()["booking"] == "F-7" and hotel.variables.to_dict()["booking"] == "H-1"
    # Both handlers are active at once, the flight's activated first; the throw event waits for them.
    active = {i.element_id: i.element_instance_key for i in camunda.search_element_instances(
        data=ElementInstanceSearchQuery(filter_=ElementInstanceSearchQueryFilter(process_instance_key=key))).items
        if i.state.value == "ACTIVE"}
    assert set(active) >= {"Throw_Compensate", "Task_CancelFlight", "Task_CancelHotel"}, active
    assert int(active["Task_CancelFlight"]) < int(active["Task_CancelHotel"])

    complete(camunda, flight, refund=420)
    complete(camunda, hotel, refund=180)
    wait_for(lambda: camunda.get_process_instance(key).state.value == "COMPLETED", TIMEOUT)
    ended = {i.element_id: i.state.value for i in camunda.search_element_instances(
        data=ElementInstanceSearchQuery(filter_=ElementInstanceSearchQueryFilter(process_instance_key=key))).items}
    assert ended["EndEvent_Cancelled"] == "COMPLETED" and ended["Task_ChargeCard"] == "TERMINATED"
    assert "EndEvent_Booked" not in ended
    refunds = {v.name: json.loads(v.value) for v in camunda.search_variables(data=VariableSearchQuery(
        filter_=VariableSearchQueryFilter(process_instance_key=key))).items if v.name.endswith("Refund")}
    assert refunds == {"flightRefund": 420, "hotelRefund": 180}
