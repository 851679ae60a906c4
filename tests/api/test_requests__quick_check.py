"""The quick body check (engine/api/quick_check.py) answers exactly as DRF's serializers do, or defers."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rest_framework import serializers

from engine.api import requests

BODIES: list[tuple[type, dict[str, Any]]] = [
    (requests.CreateProcessInstance, {"processDefinitionId": "order-process", "variables": {"a": 1}}),
    (requests.CreateProcessInstance, {"processDefinitionId": "order-process", "processDefinitionVersion": 3,
                                      "tenantId": "t1", "businessId": None, "awaitCompletion": False,
                                      "fetchVariables": ["a", "b"], "operationReference": 7}),
    (requests.CreateProcessInstance, {"processDefinitionId": " padded "}),  # DRF trims
    (requests.CreateProcessInstance, {"processDefinitionId": ""}),  # blank: refused
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "processDefinitionVersion": True}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "processDefinitionVersion": "2"}),  # DRF: 2
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "processDefinitionVersion": -2}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "variables": None}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "variables": []}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "awaitCompletion": "true"}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "startInstructions": []}),  # empty: ignored
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "startInstructions": [{"elementId": "x"}]}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "nonsense": 1}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "processDefinitionKey": "1"}),  # both: refused
    (requests.CreateProcessInstance, {"processDefinitionId": "ü-process"}),  # not ASCII: DRF judges
    (requests.CreateProcessInstance, {"processDefinitionId": "x" * 256}),
    (requests.CreateProcessInstance, {"processDefinitionId": "p", "fetchVariables": ["a", 1]}),
    (requests.CreateProcessInstance, {"variables": {}}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 30000, "maxJobsToActivate": 10, "worker": "w1",
                             "fetchVariable": ["orderId"], "requestTimeout": 20000}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 30000, "maxJobsToActivate": 32, "worker": None,
                             "tenantIds": None, "tenantFilter": "PROVIDED", "withLease": None}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 0, "maxJobsToActivate": 10}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 1, "maxJobsToActivate": 10_001}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 1, "maxJobsToActivate": 1, "tenantFilter": "X"}),
    (requests.ActivateJobs, {"type": "payment", "timeout": 1.5, "maxJobsToActivate": 1}),
    (requests.ActivateJobs, {"type": "payment", "maxJobsToActivate": 1}),
    (requests.CompleteJob, {}),
    (requests.CompleteJob, {"variables": {"paid": True}}),
    (requests.CompleteJob, {"variables": {"paid": True}, "jobLeaseToken": "", "businessId": "b"}),
    (requests.CompleteJob, {"result": {"denied": True}}),
    (requests.CompleteJob, {"jobLeaseToken": "t" * 65}),
    (requests.PublishMessage, {"name": "paid", "correlationKey": "A-1", "variables": {"x": 1}}),
    (requests.PublishMessage, {"name": "paid", "correlationKey": None, "timeToLive": 1000}),
]


def drf(cls: type, body: dict[str, Any]) -> dict[str, Any] | None:
    serializer = cls(data=body)
    try:
        serializer.is_valid(raise_exception=True)
    except serializers.ValidationError:
        return None
    return dict(serializer.validated_data)


@pytest.mark.parametrize(("cls", "body"), BODIES)
def test_a_quick_answer_is_drfs_answer(cls: type, body: dict[str, Any]) -> None:
    quick = cls.plain(body)
    if quick is not None:
        assert quick == drf(cls, body)
        assert {k: type(v) for k, v in quick.items()} == {k: type(v) for k, v in drf(cls, body).items()}


def test_the_bodies_clients_send_take_the_quick_way() -> None:
    # The official client's start, activation and completion (shared/camunda8-api.md), and the bench's.
    sent = [BODIES[0], BODIES[1], BODIES[18], BODIES[19], BODIES[25], BODIES[26], BODIES[27], BODIES[30]]
    for cls, body in sent:
        assert cls.plain(body) is not None, (cls.__name__, body)
    # What DRF would refuse or change is left to DRF.
    for cls, body in [BODIES[2], BODIES[3], BODIES[5], BODIES[11], BODIES[12], BODIES[13], BODIES[14]]:
        assert cls.plain(body) is None, (cls.__name__, body)


@pytest.mark.parametrize("body", [
    b'{"a": 1, "b": [1.5, -2e3, true, null], "c": {"d": "\\u00e9\\ud83d\\ude00"}}',
    b'{"big": 123456789012345678901234567890, "edge": 9223372036854775807}',  # json reads these exactly
    b'{"a": 1, "a": 2}',
    b'{"x": NaN}', b'{"x": Infinity}', b'{"s": "\\ud800"}', b'\xef\xbb\xbf{"bom": 1}', b'{"x": 1e400}',
    b'{"trailing": 1,}', b'[1, 2]', b'"text"', b'\xff\xfe',
])
def test_the_quick_json_parse_reads_as_drf_does(body: bytes) -> None:
    from rest_framework.exceptions import ParseError
    from rest_framework.parsers import JSONParser

    from engine.api.parsers import LenientJSONParser

    def parse(parser: Any) -> Any:
        try:
            return ("ok", parser.parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"}))
        except ParseError:
            return ("refused", None)

    assert repr(parse(LenientJSONParser())) == repr(parse(JSONParser()))
