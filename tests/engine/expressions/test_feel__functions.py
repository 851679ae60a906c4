"""FEEL built-in functions, and the engine clock behind now() and today()."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.expressions import EvaluationError, compile_value
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)

NOW = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {}, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=string(12)", "12"),
        ("=string(1.5)", "1.5"),
        ("=string(true)", "true"),
        ('=string("x")', "x"),
        ("=string(null)", None),
        ('=string([1, "a"])', '[1, "a"]'),
        ("=string({a: 1})", "{a: 1}"),
        ('=number("42")', 42),
        ('=number("4.5")', 4.5),
        ('=number("abc")', None),
    ],
)
def test_conversion(text: str, expected: object) -> None:
    assert value(text) == expected


def test_string_of_a_large_decimal_has_no_exponent() -> None:
    assert value("=string(x)", {"x": 1e20}) == "100000000000000000000"
    assert value("=string(x)", {"x": 1e-7}) == "0.0000001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=contains("foobar", "oba")', True),
        ('=contains("foobar", "x")', False),
        ('=starts with("foobar", "foo")', True),
        ('=ends with("foobar", "bar")', True),
        ('=upper case("abc")', "ABC"),
        ('=lower case("ABC")', "abc"),
        ('=trim("  x ")', "x"),
        ('=string length("héllo")', 5),
        ('=substring("foobar", 3)', "obar"),
        ('=substring("foobar", 3, 3)', "oba"),
        ('=substring("foobar", -2, 1)', "a"),
        ('=substring before("foobar", "bar")', "foo"),
        ('=substring after("foobar", "ob")', "ar"),
        ('=string join(["a", "b", "c"], ", ")', "a, b, c"),
        ('=string join(["a", null, "c"])', "ac"),
        ('=string join(["a", "b"], "-", "[", "]")', "[a-b]"),
        ('=matches("order-17", "^order-\\d+$")', True),
        ('=replace("abc-123", "(\\d+)", "#$1")', "abc-#123"),
        ('=split("a,b,,c", ",")', ["a", "b", "", "c"]),
    ],
)
def test_string_functions(text: str, expected: object) -> None:
    assert value(text) == expected


def test_string_functions_of_null_are_null() -> None:
    assert value("=upper case(name)") is None
    assert value('=contains(name, "x")') is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=abs(-3)", 3),
        ("=abs(-1.5)", 1.5),
        ("=floor(1.7)", 1),
        ("=floor(-1.5)", -2),
        ("=ceiling(1.2)", 2),
        ("=floor(1.567, 2)", 1.56),
        ("=decimal(1.125, 2)", 1.12),  # half even
        ("=decimal(2.5, 0)", 2),
        ("=round half up(2.5, 0)", 3),
        ("=round half up(1.125, 2)", 1.13),
        ("=round up(1.21, 1)", 1.3),
        ("=round down(1.29, 1)", 1.2),
        ("=modulo(10, 3)", 1),
        ("=modulo(-10, 3)", 2),
        ("=sqrt(16)", 4),  # an integral decimal is an int
        ("=odd(3)", True),
        ("=even(3)", False),
    ],
)
def test_number_functions(text: str, expected: object) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=count([1, 2, 3])", 3),
        ("=count([])", 0),
        ("=sum([1, 2, 3])", 6),
        ("=sum(1, 2, 3.5)", 6.5),
        ("=mean([1, 2, 3, 4])", 2.5),
        ("=min([3, 1, 2])", 1),
        ("=max(3, 1, 2)", 3),
        ('=max(["b", "a"])', "b"),
        ("=min([])", None),
        ("=all([true, true])", True),
        ("=all([true, null])", None),
        ("=any([false, true])", True),
        ("=list contains([1, 2], 2)", True),
        ("=list contains([1, 2], 3)", False),
        ("=append([1], 2, 3)", [1, 2, 3]),
        ("=concatenate([1], [2], [3, 4])", [1, 2, 3, 4]),
        ("=distinct values([1, 2, 1, 3, 2])", [1, 2, 3]),
        ("=flatten([1, [2, [3]]])", [1, 2, 3]),
        ("=reverse([1, 2, 3])", [3, 2, 1]),
        ("=index of([1, 2, 1], 1)", [1, 3]),
        ("=sublist([1, 2, 3, 4], 2, 2)", [2, 3]),
        ("=sublist([1, 2, 3, 4], -2)", [3, 4]),
    ],
)
def test_list_functions(text: str, expected: object) -> None:
    assert value(text) == expected


def test_list_functions_on_variables() -> None:
    assert value("=count(items)", {"items": [{"id": 1}, {"id": 2}]}) == 2
    assert value("=count(items) > 0", {"items": []}) is False
    assert value("=sum(order.items.price)", {"order": {"items": [{"price": 5}, {"price": 7.5}]}}) == 12.5
    assert value("=count(items)") is None


def test_context_functions() -> None:
    assert value('=get or else(nickname, "n/a")') == "n/a"
    assert value('=get or else(nickname, "n/a")', {"nickname": "Bo"}) == "Bo"
    assert value('=get value({a: 1}, "a")') == 1
    assert value('=get value(person, "Date of Birth")', {"person": {"Date of Birth": "1990"}}) == "1990"


def test_now_and_today_read_the_clock_given_to_evaluate() -> None:
    assert value("=now()") == "2024-05-01T12:30:00Z"
    assert value("=today()") == "2024-05-01"
    paris = dt.timezone(dt.timedelta(hours=2))
    assert compile_value("=now()").evaluate({}, now=dt.datetime(2024, 5, 1, 23, 30, tzinfo=paris)) == (
        "2024-05-01T23:30:00+02:00"
    )
    assert compile_value("=now()").evaluate({}, now=dt.datetime(2024, 5, 1, 8, 0)) == "2024-05-01T08:00:00Z"


def test_an_expression_reading_the_clock_needs_one() -> None:
    with pytest.raises(EvaluationError, match="no clock was given"):
        compile_value("=now()").evaluate({})
    assert compile_value("=1 + 1").evaluate({}) == 2  # others never do


def test_dates_and_durations() -> None:
    assert value('=date and time("2024-05-01T10:00:00+02:00")') == "2024-05-01T10:00:00+02:00"
    assert value('=date("2024-05-01T10:00:00Z")') == "2024-05-01"
    assert value('=date("2024-05-01") < today()') is False
    assert value('=duration("P1DT2H")') == "P1DT2H"
    assert value('=date and time("2024-05-01T10:00:00Z").year') == 2024
    assert value('=duration("PT90M").hours') == 1
    assert value("=date and time(due) < now()", {"due": "2024-04-01T00:00:00Z"}) is True
    # variables hold text: convert it first
    null_with_warning("=due < now()", {"due": "2024-04-01T00:00:00Z"}, match="cannot compare string with date-time")
    assert value('=duration("P1M")') == "P1M"  # a years and months duration
    null_with_warning('=date and time("tomorrow")', match="ISO 8601")


def test_wrong_argument_types_are_null_with_a_warning() -> None:
    null_with_warning('=count("abc")', match=r"count\(\) expects a list, got string")
    null_with_warning("=upper case(1)", match=r"upper case\(\) expects a string, got number")
    null_with_warning('=matches("a", "(")', match="invalid regular expression")
    null_with_warning('=sum([1, "2"])', match=r"sum\(\) expects numbers")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=substring(string: "foobar", start position: 3)', "obar"),
        ('=substring(start position: 3, string: "foobar", length: 2)', "ob"),
        ("=sqrt(number: 16)", 4),
        ('=matches("Hello", "^hello$", "i")', True),
        ('=replace("a.b", ".", "#", "q")', "a#b"),
        ("=log(1)", 0),
        ("=median([3, 1, 2, 4])", 2.5),
        ("=stddev(2, 4, 7, 5)", 2.0816659994661326),
        ("=product(2, 3, 4)", 24),
        ("=mode([1, 2, 2, 3, 3])", [2, 3]),
        ("=insert before([1, 3], 2, 2)", [1, 2, 3]),
        ("=remove([1, 2, 3], -1)", [1, 2]),
        ("=list replace([1, 2, 3], 2, 9)", [1, 9, 3]),
        ("=union([1, 2], [2, 3])", [1, 2, 3]),
        ('=get entries({a: 1})', [{"key": "a", "value": 1}]),
        ('=context([{key: "a", value: 1}])', {"a": 1}),
        ('=context put({a: 1}, "b", 2)', {"a": 1, "b": 2}),
        ("=context merge([{a: 1}, {a: 2, b: 3}])", {"a": 2, "b": 3}),
        ('=day of year(date("2024-02-01"))', 32),
        ('=day of week(date("2024-05-01"))', "Wednesday"),
        ('=month of year(date("2024-05-01"))', "May"),
        ('=week of year(date("2024-01-01"))', 1),
        ("=date(2024, 2, 29)", "2024-02-29"),
        ('=@"2024-02-29"', "2024-02-29"),
        ('=@"2024-02-29T10:00:00Z" > @"2024-02-29T09:00:00Z"', True),
        ('=@"P1DT2H"', "P1DT2H"),
        ('=replace("facetiously", "[iouy]", "[$0]")', "facet[i][o][u]sl[y]"),
        ("=[{a: 1}, {a: 2}, {a: 3}][a >= 2]", [{"a": 2}, {"a": 3}]),
        ("=[{a: 1}, {b: 2}][b > 1]", [{"b": 2}]),
        ("=[1, 2][true]", [1, 2]),
        ("={a: 1 + 2, b: 3, c: {d: a + b}}", {"a": 3, "b": 3, "c": {"d": 6}}),
        ("={a: 1, b: a + 1}.b", 2),
        ("=is(1, 1.0)", True),
        ('=is(1, "1")', False),
        ('=is(@"2024-01-01T10:00:00+01:00", @"2024-01-01T09:00:00Z")', False),
        ('=is(@"2024-01-01", @"2024-01-01")', True),
    ],
)
def test_dmn_builtins_and_named_arguments(text: str, expected: object) -> None:
    assert value(text) == expected
