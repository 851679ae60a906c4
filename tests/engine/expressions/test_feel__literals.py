"""FEEL literals and the Camunda attribute convention ("=" means expression, anything else is text)."""

from __future__ import annotations

import pytest

from engine.expressions import compile_feel, compile_value
from tests.engine.expressions.support import runner  # noqa: F401 (runs each test under both runners)


def value(text: str, **variables: object) -> object:
    return compile_value(text).evaluate(variables)


def test_text_without_equals_is_a_static_string() -> None:
    expression = compile_value("payment-service")
    assert expression.dialect == "static"
    assert expression.cel is None
    assert expression.evaluate({"payment-service": 1}) == "payment-service"
    assert expression.evaluate_str({}) == "payment-service"


def test_leading_space_before_equals_is_still_static_text() -> None:
    assert compile_value(" =amount").evaluate({"amount": 1}) == " =amount"


def test_equals_marks_a_feel_expression() -> None:
    expression = compile_value("=amount")
    assert expression.dialect == "feel"
    assert expression.source == "=amount"
    assert expression.cel == "amount"


@pytest.mark.parametrize("text", ["= source", "=  source", "=\tsource", "=\n  source"])
def test_whitespace_after_equals_is_allowed(text: str) -> None:
    assert compile_value(text).evaluate({"source": "ERP"}) == "ERP"


def test_compile_feel_accepts_text_with_or_without_equals() -> None:
    assert compile_feel("=1 + 1").evaluate({}) == 2
    assert compile_feel("1 + 1").evaluate({}) == 2
    assert compile_feel("1 + 1").source == "1 + 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('="approved"', "approved"),
        ('=""', ""),
        ('="say \\"hi\\""', 'say "hi"'),
        ('="line\\nbreak\\ttab"', "line\nbreak\ttab"),
        ('="back\\\\slash"', "back\\slash"),
        ('="\\u00e9t\\u00e9"', "été"),
        ('="^\\d+$"', "^\\d+$"),  # unknown escapes stay, so regular expressions read naturally
        ('="Grüße, 世界"', "Grüße, 世界"),
    ],
)
def test_string_literals(text: str, expected: str) -> None:
    assert value(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=100", 100), ("=0", 0), ("=-5", -5), ("=1.5", 1.5), ("=.5", 0.5), ("=-0.25", -0.25), ("=1.0", 1.0)],
)
def test_number_literals(text: str, expected: float) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)  # ints stay ints, decimals are floats


def test_boolean_and_null_literals() -> None:
    assert value("=true") is True
    assert value("=false") is False
    assert value("=null") is None


def test_list_literals() -> None:
    assert value("=[1, 2, 3]") == [1, 2, 3]
    assert value("=[]") == []
    assert value('=["a", 1, true, null, [2]]') == ["a", 1, True, None, [2]]
    assert value("=[amount, amount * 2]", amount=5) == [5, 10]


def test_context_literals() -> None:
    assert value('={a: 1, "b c": 2}') == {"a": 1, "b c": 2}
    assert value("={}") == {}
    assert value("={customer: {name: name, vip: amount > 100}}", name="Ann", amount=150) == {
        "customer": {"name": "Ann", "vip": True}
    }
    assert value("={Employee Badge Number: 7}") == {"Employee Badge Number": 7}


def test_context_entries_are_read_with_paths() -> None:
    assert value("={a: {b: 3}}.a.b") == 3


def test_comments_are_ignored() -> None:
    assert value("=amount // the order total\n > 100", amount=150) is True
    assert value("=/* total */ amount", amount=3) == 3


def test_constant_results_are_fresh_copies() -> None:
    expression = compile_value("=[1, {a: 2}]")
    first = expression.evaluate({})
    first[1]["a"] = 99
    assert expression.evaluate({}) == [1, {"a": 2}]


def test_results_are_plain_python() -> None:
    result = value('={n: 1, s: "x", l: [true], d: 1.5}')
    assert type(result) is dict
    assert [type(v) for v in result.values()] == [int, str, list, float]
    assert type(result["l"][0]) is bool
