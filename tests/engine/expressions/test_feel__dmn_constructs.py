"""FEEL beyond what BPMN files use: function definitions, instance of, ranges, XPath regular
expressions, characters beyond the BMP, and string() of every kind of value."""

from __future__ import annotations

import time

import pytest

from engine.expressions import EvaluationError, ExpressionError, compile_feel, compile_value
from engine.expressions.feel_regex import MATCH_TIMEOUT
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=(function(a, b) a + b)(1, 2)", 3),
        ("=(function(a, b) a - b)(b: 1, a: 5)", 4),
        ("={add: function(a, b) a + b, r: add(2, 3)}.r", 5),
        ("=for i in [1, 2] return (function(x) x * i)(10)", [10, 20]),  # the body closes over i
        ("=(function(x) x + offset)(1)", 11),  # ... and over the expression's variables
        ("=sort([3, 1, 2], function(x, y) x > y)", [3, 2, 1]),
        ("=list replace([1, 2, 3], function(item, newItem) item < newItem, 2)", [2, 2, 3]),
        ("=(function(n) if n = 0 then 0 else n + 1)(0)", 0),
        ("=for i in 1..3 return i * 2", [2, 4, 6]),
        ("=for i in 3..1 return i", [3, 2, 1]),
        ("=5 in [1..5]", True),
        ("=5 in [1..5)", False),
        ("=1 in ]1..5]", False),
        ("=x in (0..10)", True),
        ('=date("2024-05-01") in [date("2024-01-01")..date("2024-12-31")]', True),
        ("=x instance of number", True),
        ('="a" instance of number', False),
        ("=null instance of Null", True),
        ("=[1, 2] instance of list<number>", True),
        ('=[1, "2"] instance of list<number>', False),
        ('={a: 1, b: "x"} instance of context<a: number, b: string>', True),
        ('=@"P1Y" instance of years and months duration', True),
        ('=@"P1D" instance of years and months duration', False),
        ("=(function(a) a) instance of function", True),
        ("=[1..2] instance of range", True),
        # range functions (DMN 1.5 10.3.4.11) and range()
        ("=before(1, 10)", True),
        ("=before([1..5), [5..10])", True),
        ("=before([1..5], [5..10])", False),
        ("=after(range: [1..5], point: 0)", True),
        ("=after(point: 0, range: [1..5])", False),
        ("=meets([1..5], [5..10])", True),
        ("=met by([5..10], [1..5])", True),
        ("=overlaps([1..5], [6..8])", False),
        ("=overlaps before([1..5], [3..8])", True),
        ("=overlaps after([3..8], [1..5])", True),
        ("=finishes(5, [1..5])", True),
        ("=finished by([1..5), 5)", False),
        ("=includes([1..10], [4..6])", True),
        ("=during([4..6], [1..10])", True),
        ("=starts(1, (1..5])", False),
        ("=started by([1..5], [1..3])", True),
        ("=coincides([1..5], [1..5))", False),
        ('=5 in range("< 10")', True),
        ('=before(range("<= 5"), 5)', False),
        ('=includes(range("[\\"a\\"..\\"c\\"]"), "b")', True),
        ('=includes(range("[@\\"2020-01-01\\"..@\\"2020-12-31\\"]"), date("2020-05-01"))', True),
        # XPath regular expressions
        ('=matches("aA", "(a)\\1", "i")', True),
        ('=matches("X", "[A-Z-[OI]]")', True),
        ('=matches("O", "[A-Z-[OI]]")', False),
        ('=matches("hello", "\\p{IsBasicLatin}+")', True),
        ('=matches("a\\rb", "a.b")', False),
        ('=matches("a\\rb", "a.b", "s")', True),
        ('=matches("hello world", "hello\\ sworld", "x")', True),
        ('=matches("a+b", "a+b", "q")', True),
        ('=replace("abc", "(b)", "[$1]")', "a[b]c"),
        ('=split("a1b22c", "\\d+")', ["a", "b", "c"]),
        ('=number("1 000,5", " ", ",")', 1000.5),
        ('=number(from: "1.000", grouping separator: ".", decimal separator: ",")', 1000),
        # characters beyond the BMP count as one
        ('=string length("\\U01F40E")', 1),
        ('=string length("\\ud83d\\udc0e\\uD83D\\uDE00")', 2),
        ('=substring("\\U01F40Efoo", 2)', "foo"),
        ('={🐎: "bar"}.🐎', "bar"),
        # string() writes values as FEEL does
        ('=string({a: "foo", b: {bar: "baz"}})', '{a: "foo", b: {bar: "baz"}}'),
        ('=string({"{": 1, ":": 2})', '{"{": 1, ":": 2}'),
        ('=string([1, "a", null])', '[1, "a", null]'),
        ('=string(date("2024-05-01"))', "2024-05-01"),
        ('=string(@"P13M")', "P1Y1M"),
        ("=string(1.50)", "1.5"),
    ],
)
def test_constructs(text: str, expected: object) -> None:
    assert value(text, {"x": 3, "offset": 10}) == expected


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ('=matches("abcd", "(asd)[asd\\0]")', "back-reference inside a character class"),  # \0 is no XPath escape
        ('=matches("a", "(.)\\3")', "invalid back-reference"),  # a back-reference to no group
        ('=matches("a", "hello[]world")', "unclosed character class"),
        ("=(1)(2)", "is not a function"),
        ('=date("2024-01-01") in [1..5]', "cannot compare"),
    ],
)
def test_failures_are_null_with_a_warning(text: str, warning: str) -> None:
    null_with_warning(text, match=warning)


@pytest.mark.parametrize(
    "text",
    [
        "=function(a) a",  # a function or a range cannot be stored as a variable (JSON)
        "={f: function(a) a}",
        "=[1..5]",
    ],
)
def test_errors(text: str) -> None:
    with pytest.raises(EvaluationError):
        value(text)


def test_a_backtracking_pattern_runs_out_of_time_instead_of_hanging() -> None:
    # Back-references defeat the regex package's shortcuts: this one backtracks for ages.
    started = time.monotonic()
    null_with_warning('=matches(text, "(.*)(.*)(.*)(.*)(.*)\\1\\2\\3\\4\\5x")', {"text": "x" + "a" * 80},
                      match="took too long")
    assert time.monotonic() - started < MATCH_TIMEOUT * 20  # the timeout is checked now and then


def test_a_function_body_is_checked_when_the_expression_compiles() -> None:
    with pytest.raises(ExpressionError, match="in the function body: count"):
        compile_feel("function(a) count()")


def test_a_named_argument_left_out_is_null_in_dmn_and_refused_in_bpmn() -> None:
    # DMN TCK 0103 named_params_002/003: value1 and value2 of is() are nullable.
    assert compile_feel('=is(value1: "a")', user_functions=True).evaluate({}) is False
    assert compile_feel('=is(value2: "a")', user_functions=True).evaluate({}) is False
    assert compile_feel("=substring(start position: 2)", user_functions=True).evaluate({}) is None
    with pytest.raises(ExpressionError, match=r"is\(\) takes 2 arguments, got 1"):
        compile_value('=is(value1: "a")')
