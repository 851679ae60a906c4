"""zeebe:ioMapping: inputs are local to the element; outputs go to the nearest scope that has the variable."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ORDER = {"id": "A-7", "lines": [{"sku": "X1"}, {"sku": "X2"}]}


def test_inputs_are_local_and_outputs_propagate(engine):
    engine.deploy("io-mapping")
    key = engine.start("io-mapping", order=ORDER)
    [job] = engine.jobs("price")
    # The worker sees the inputs (local to the task) on top of the process variables.
    assert engine.job_variables(job) == {"order": ORDER, "orderId": "A-7", "firstSku": "X1", "currency": "EUR"}
    engine.complete_jobs("price", {"result": {"total": 250}})
    # With output mappings, only their targets leave the task: `result` stays local.
    assert engine.variables(key) == {"order": {**ORDER, "expensive": True}, "total": 250}
    engine.complete_jobs("ship")
    engine.assert_clean_end(key)
    assert engine.completion_order(key) == ["StartEvent_1", "Task_Price", "Task_Ship", "EndEvent_1", "io-mapping"]
    assert ("Task_Price", "orderId", "A-7") in engine.all_variables(key)


def test_without_output_mappings_job_variables_go_to_the_process(engine):
    engine.deploy("io-mapping")
    key = engine.start("io-mapping", order=ORDER)
    engine.complete_jobs("price", {"result": {"total": 5}})
    engine.complete_jobs("ship", {"tracking": "T-1", "total": 6})
    engine.assert_clean_end(key)
    assert engine.variables(key) == {"order": {**ORDER, "expensive": False}, "total": 6, "tracking": "T-1"}


def test_an_input_mapping_that_fails_gives_null_not_an_incident(engine):
    # Camunda 8 (feel-scala 1.17+): `order.lines[1].sku` on a string is null (with a warning); a
    # mapping takes any value, so the task starts with firstSku null.
    engine.deploy("io-mapping")
    key = engine.start("io-mapping", order={"id": "A-8", "lines": "none"})
    assert engine.incidents(key) == []
    [job] = engine.jobs("price")
    assert engine.job_variables(job)["firstSku"] is None
    assert engine.job_variables(job)["orderId"] == "A-8"
