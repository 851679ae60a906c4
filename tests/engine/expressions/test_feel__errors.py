"""Deploy-time errors (ExpressionError, with the construct and the column) and run-time errors."""

from __future__ import annotations

import pytest

from engine.expressions import (
    EvaluationError,
    ExpressionError,
    InvocationError,
    compile_cel,
    compile_condition,
    compile_feel,
    compile_value,
)
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)


def compile_error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_value(text)
    assert caught.value.text == text
    return caught.value


@pytest.mark.parametrize(
    ("text", "construct", "column"),
    [
        ("=x in 1..5", "range (..) outside brackets", 8),
        ("=< 5", "unary test (< ...)", 2),
        ("=x in < 5", "unary test (in < ...)", 7),
        ("=? > 1", "unary test input ?", 2),
    ],
)
def test_unsupported_constructs_are_named_with_their_column(text: str, construct: str, column: int) -> None:
    error = compile_error(text)
    assert f"unsupported FEEL construct '{construct}" in error.message
    assert error.column == column
    assert f"at column {column}" in error.message


def test_the_message_of_an_unsupported_construct() -> None:
    error = compile_error("=amount in 1..5")
    assert error.message == "unsupported FEEL construct 'range (..) outside brackets' at column 13"
    assert "=amount in 1..5" in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("=", "empty expression", 2),
        ("= ", "empty expression", 3),
        ("=amount >", "unexpected end of expression", 10),
        ("=(a + b", "expected ')' to close the parenthesis, found end of expression", 8),
        ("=if a then b", "expected 'else' after the then branch", 13),
        ('="open', "unterminated string", 2),
        ("=a ! b", "unexpected '!' (FEEL negation is not(x))", 4),
        ("=not approved", "unexpected 'not' (FEEL negation is not(x))", 2),
        ("='x'", "FEEL strings use double quotes", 2),
        ("=a + * b", "unexpected '*'", 6),
        ("=[1, 2", "expected ',' between list items, found end of expression", 7),
        ("={a: 1, a: 2}", "duplicate context key 'a'", 9),
        ("={a: 1, b: a + a, c: b + b, d: c + c, e: d + d, f: e + e, g: f + f, h: g + g, i: h + h, j: i + i, "
         "k: j + j, l: k + k, m: l + l}", "context entries that read each other grow too large", 109),
        ("=a.1", "unexpected number .1", 3),
        ('=a."b"', "expected a name after '.', found a string", 4),
        ("=some x in xs", "expected 'satisfies' after the some iteration", 14),
        ("=for 1 in xs return 1", "expected a variable name after 'for'", 6),
    ],
)
def test_syntax_errors(text: str, message: str, column: int) -> None:
    error = compile_error(text)
    assert message in error.message
    assert error.column == column


def test_unknown_functions_and_wrong_argument_counts() -> None:
    assert compile_error("=sortt(xs)").message == "unknown or unsupported FEEL function 'sortt()' at column 2"
    assert compile_error("=frobnicate widget(d)").message.startswith(
        "unknown or unsupported FEEL function 'frobnicate widget()'"
    )
    assert compile_error("=substring(s)").message == "substring() takes 2 to 3 arguments, got 1 at column 2"
    assert compile_error("=count()").message == "count() takes 1 argument, got 0 at column 2"
    assert compile_error("=now(1)").message == "now() takes 0 arguments, got 1 at column 2"
    assert "is defined() expects a variable or a path" in compile_error("=is defined(1 + 1)").message
    # FEEL makes such calls null; BPMN refuses them at deploy, DMN (engine/dmn) takes the null.
    assert isinstance(compile_error("=count()"), InvocationError)
    assert compile_error("=sqrt(n: 4)").message == "sqrt() has no parameter 'n' at column 2"
    assert compile_error("=substring(length: 2)").message.startswith("substring() is missing the argument 'string'")


def test_conditions_must_be_expressions() -> None:
    with pytest.raises(ExpressionError, match="a condition must be an expression"):
        compile_condition("amount > 100")
    with pytest.raises(ExpressionError, match="unsupported expression language 'javascript'"):
        compile_condition("amount > 100", language="javascript")


def test_errors_point_at_the_column_in_the_file_text() -> None:
    assert compile_error("=   a +").column == 8
    with pytest.raises(ExpressionError) as caught:
        compile_feel("a +")
    assert caught.value.column == 4


# --- run time


def test_a_condition_must_be_a_boolean() -> None:
    condition = compile_condition("=amount > 100")
    with pytest.raises(EvaluationError) as caught:
        condition.evaluate_bool({})
    assert caught.value.message == "the condition must be true or false, but it is null (not set: amount)"
    assert caught.value.source == "=amount > 100"
    with pytest.raises(EvaluationError, match="but it is str 'yes'"):
        compile_condition("=answer").evaluate_bool({"answer": "yes"})


def test_a_type_error_is_null_and_the_evaluation_goes_on() -> None:
    # Camunda 8 (feel-scala 1.17+): the failing part is null, the rest of the expression still runs.
    expression = compile_value("=total + tax + fee")
    assert expression.evaluate({"total": "12", "tax": 1}) is None
    assert expression.explain({"total": "12", "tax": 1}) == ["cannot add string and number (convert with string())"]
    assert compile_value('=if "a" + 1 = null then "null" else "a value"').evaluate({}) == "null"
    assert compile_value('={sum: "a" + 1, ok: 2}').evaluate({}) == {"sum": None, "ok": 2}
    assert compile_value("=[1 / 0, abs(-2)]").evaluate({}) == [None, 2]
    assert compile_value("=[1 / 0, abs(-2)]").explain({}) == ["division by zero"]
    assert compile_value("=x + 1").explain({"x": 1}) == []  # nothing failed


def test_a_condition_that_is_null_names_the_warnings_and_the_missing_variables() -> None:
    with pytest.raises(EvaluationError) as caught:
        compile_condition("=total + tax + fee > 10").evaluate_bool({"total": "12", "tax": 1})
    assert caught.value.message == (
        "the condition must be true or false, but it is null (not set: fee); "
        "the evaluation reported: cannot add string and number (convert with string())"
    )
    assert "=total + tax + fee > 10" in str(caught.value)
    with pytest.raises(EvaluationError, match=r"but the value is null; the evaluation reported: upper case\(\) "):
        compile_value("=upper case(1)").evaluate_str({})


def test_cel_keeps_cel_errors() -> None:
    with pytest.raises(EvaluationError, match="no such overload"):
        compile_cel('cel:"a" + 1').evaluate({})


def test_evaluate_str() -> None:
    assert compile_value("=jobType").evaluate_str({"jobType": "payment"}) == "payment"
    assert compile_value("=orderId").evaluate_str({"orderId": 42}) == "42"
    assert compile_value("=ratio").evaluate_str({"ratio": 0.5}) == "0.5"
    with pytest.raises(EvaluationError, match="expected a string or a number, but the value is null"):
        compile_value("=orderId").evaluate_str({})
    with pytest.raises(EvaluationError, match="but the value is bool True"):
        compile_value("=flag").evaluate_str({"flag": True})


def test_variables_that_are_not_json_are_refused() -> None:
    with pytest.raises(EvaluationError, match="a variable of type object cannot be used"):
        compile_value("=x + 1").evaluate({"x": object()})
    with pytest.raises(EvaluationError, match="does not fit in 64 bits"):
        compile_value("=x + 1").evaluate({"x": 2**70})


def test_a_path_into_a_string_is_null_with_a_warning() -> None:
    null_with_warning("=applicant.email", {"applicant": "ann"}, match="cannot read 'email' of string")


def test_iterating_over_null_is_null_with_a_warning() -> None:
    null_with_warning("=some i in items satisfies i > 1", match=r"cannot iterate over null \(is the variable set\?\)")
    null_with_warning("=for i in items return i * 2", match=r"cannot iterate over null")
