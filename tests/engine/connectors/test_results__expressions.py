"""resultVariable / resultExpression / errorExpression, and the bpmnError()/jobError() helpers."""

from __future__ import annotations

import pytest

from engine.connectors.base import ConnectorError, Invocation, Result
from engine.connectors.results import decide, rewrite_helpers
from tests.engine.connectors.conftest import T0


def invocation(**headers: str) -> Invocation:
    return Invocation(job_key=1, job_type="io.camunda:http-json:1", retries=3, headers=headers,
                      variables={"url": "http://x"}, inputs=("url",), now=T0, budget_seconds=5)


RESPONSE = {"status": 200, "headers": {}, "body": {"id": 7, "state": "open"}}


def test_the_helpers_become_contexts_and_strings_stay_untouched():
    expected = '{errorType: "bpmnError", code: "E1", message: "m", variables: null}'
    assert rewrite_helpers('bpmnError("E1", "m")') == expected
    assert rewrite_helpers('if x then jobError("m (not bpmnError(1))", {a: f(1, 2)}, 0) else null') == (
        'if x then {errorType: "jobError", message: "m (not bpmnError(1))", variables: {a: f(1, 2)}, retries: 0, '
        'retryBackoff: null} else null'
    )
    with pytest.raises(ValueError, match="takes 2 to 3 arguments"):
        rewrite_helpers('bpmnError("only code")')
    with pytest.raises(ValueError, match="unbalanced"):
        rewrite_helpers('bpmnError("a", "b"')


def test_without_result_headers_nothing_is_set_and_with_both_both_are():
    assert decide(invocation(), Result(RESPONSE), None).variables == {}
    outcome = decide(invocation(resultVariable="r", resultExpression="={id: response.body.id}"), Result(RESPONSE), None)
    assert outcome.kind == "complete" and outcome.variables == {"r": RESPONSE, "id": 7}


def test_a_result_expression_that_is_not_a_context_fails_for_good():
    outcome = decide(invocation(resultExpression="=response.body.id"), Result(RESPONSE), None)
    assert (outcome.kind, outcome.retries) == ("fail", 0)
    assert "resultExpression must give a context" in outcome.message


def test_an_error_expression_can_turn_a_success_into_a_bpmn_error_or_a_job_error():
    bpmn = decide(invocation(errorExpression='=if response.body.state = "open" then bpmnError("OPEN", "still open") '
                                             'else null'), Result(RESPONSE), None)
    assert (bpmn.kind, bpmn.code, bpmn.message) == ("error", "OPEN", "still open")
    job = decide(invocation(errorExpression='=jobError("try later", {seen: response.status}, 1, "PT30S")'),
                 Result(RESPONSE), None)
    assert (job.kind, job.message, job.variables, job.retries, job.backoff_ms) == (
        "fail", "try later", {"seen": 200}, 1, 30_000)
    assert decide(invocation(errorExpression="=null"), Result(RESPONSE), None).kind == "complete"


def test_an_error_expression_sees_the_error_and_may_give_a_plain_code():
    error = ConnectorError("503", "HTTP 503 Service Unavailable from GET http://x/", response={"status": 503})
    outcome = decide(invocation(errorExpression='=if error.code = "503" then "UNAVAILABLE" else null'), None, error)
    assert (outcome.kind, outcome.code) == ("error", "UNAVAILABLE")
    passthrough = decide(invocation(errorExpression='=if error.code = "404" then "GONE" else null',
                                    retryBackoff="PT5S"), None, error)
    assert (passthrough.kind, passthrough.retries, passthrough.backoff_ms) == ("fail", 2, 5000)
    assert passthrough.message == error.message


def test_a_broken_error_expression_is_reported_not_ignored():
    error = ConnectorError("500", "HTTP 500")
    outcome = decide(invocation(errorExpression="=if error.code = then"), None, error)
    assert (outcome.kind, outcome.retries) == ("fail", 0)
    assert outcome.message.startswith("errorExpression:")
