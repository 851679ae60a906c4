"""Arithmetic, concatenation, comparisons, logic, if, quantifiers, for and filters, with FEEL's nulls."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.expressions import FeelFunction, compile_feel, compile_value
from tests.engine.expressions.support import null_with_warning, runner  # noqa: F401 (runs each test under both runners)


def value(text: str, variables: dict[str, object] | None = None) -> object:
    return compile_value(text).evaluate(variables or {})


def test_real_file_conditions() -> None:
    assert compile_value("=amount > 100").evaluate_bool({"amount": 150}) is True
    assert compile_value("=amount > 100").evaluate_bool({"amount": 100}) is False
    assert compile_value("=amount > 100").evaluate_bool({"amount": 100.5}) is True
    assert compile_value('=status = "OK"').evaluate_bool({"status": "OK"}) is True
    assert compile_value('=status = "OK"').evaluate_bool({"status": "FAILED"}) is False
    assert compile_value("=not(approved)").evaluate_bool({"approved": False}) is True
    assert compile_value("=approved = true").evaluate_bool({"approved": True}) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1 + 2", 3),
        ("=1 + 1.5", 2.5),
        ("=10 - 4 - 3", 3),
        ("=2 * 3 + 4", 10),
        ("=2 * (3 + 4)", 14),
        ("=7 / 2", 3.5),  # FEEL divides as decimals
        ("=6 / 2", 3),
        ("=1 / 4 * 2", 0.5),
        ("=-(2 + 3)", -5),
        ("=- -2", 2),
        ("=2 ** 10", 1024),
        ("=2 ** -1", 0.5),
        ("=-2 ** 2", 4),
        ("=0.1 + 0.2 > 0.3", False),  # FEEL numbers are decimals
        ("=0.1 + 0.2 = 0.3", True),
        ("=0.1 + 0.2", 0.3),
        ("=1.5 * 2", 3),  # an integral result is an integer (stored as 3, not 3.0)
        ("=0.3 - 0.1 = 0.2", True),
        ("=1 / 3 * 3 = 1", False),  # 34 digits, not exact fractions
        ("=1 / 3 * 3", 1.0),
        ("=string(1 / 3)", "0.3333333333333333333333333333333333"),
        ("=string(0.1 + 0.2)", "0.3"),
        ("=string(10.25 * 4)", "41"),
        ("=100000000000000000000.1 - 0.1 > 0", True),
        ("=-(0.1 + 0.2) = -0.3", True),
        ("=sum([0.1, 0.2]) = 0.3", True),  # sum, mean and product compute in decimal too
        ("=sum([1.5, 1.5])", 3),
        ("=sum([1, 2, 3])", 6),
        ("=mean([0.1, 0.2]) = 0.15", True),
        ("=product([0.1, 3]) = 0.3", True),
    ],
)
def test_arithmetic(text: str, expected: object) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


def test_arithmetic_with_variables() -> None:
    assert value("=order.total * 1.2", {"order": {"total": 100}}) == 120.0
    assert value("=price * quantity", {"price": 2.5, "quantity": 4}) == 10.0
    assert value("=count + 1", {"count": 41}) == 42


def test_arithmetic_with_null_is_null() -> None:
    assert value("=missing + 1") is None
    assert value("=1 - missing") is None
    assert value("=missing * 2") is None
    assert value("=-missing") is None
    assert value("=order.total * 1.2", {"order": {}}) is None


def test_string_concatenation() -> None:
    assert value('="Hello " + name', {"name": "Ann"}) == "Hello Ann"
    assert value('="Order " + string(id)', {"id": 12}) == "Order 12"
    text = '="https://" + host + "/api/orders/" + orderId + "?lang=" + lang'
    assert value(text, {"host": "shop.example", "orderId": "A-1", "lang": "en"}) == (
        "https://shop.example/api/orders/A-1?lang=en"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1 = 1", True),
        ("=1 = 1.0", True),
        ("=1 != 2", True),
        ('="a" = "a"', True),
        ('="a" = 1', False),  # different types are simply not equal
        ("=[1, {a: 2}] = [1, {a: 2}]", True),
        ("={a: 1} = {a: 2}", False),
        ("=null = null", True),
        ("=1 = null", False),
        ("=1 != null", True),
        ("=1 < 2", True),
        ("=2 <= 2", True),
        ("=1.5 > 1", True),
        ("=3 >= 4", False),
        ('="abc" < "abd"', True),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    assert value(text) is expected


def test_ordering_with_null_is_null() -> None:
    assert value("=amount > 100") is None
    assert value("=null <= 1") is None


@pytest.mark.parametrize(
    ("a", "b", "conjunction", "disjunction"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (False, False, False, False),
        (True, None, None, True),
        (False, None, False, None),
        (None, None, None, None),
    ],
)
def test_three_valued_logic(a: object, b: object, conjunction: object, disjunction: object) -> None:
    assert value("=a and b", {"a": a, "b": b}) is conjunction
    assert value("=b and a", {"a": a, "b": b}) is conjunction
    assert value("=a or b", {"a": a, "b": b}) is disjunction
    assert value("=b or a", {"a": a, "b": b}) is disjunction


def test_logic_precedence_and_not() -> None:
    variables = {"a": True, "b": False, "c": True}
    assert value("=a or b and c", variables) is True
    assert value("=(a or b) and not(c)", variables) is False
    assert value("=not(amount > 100)", {"amount": 50}) is True
    assert value("=not(missing)") is None


def test_false_wins_over_an_error_and_true_wins_over_an_error() -> None:
    assert value('=false and "x" > 1') is False
    assert value('=true or "x" > 1') is True


def test_between_and_in() -> None:
    assert value("=x between 1 and 10", {"x": 10}) is True
    assert value("=x between 1 and 10", {"x": 11}) is False
    assert value("=x between 1 and 10") is None
    assert value('=status in ["NEW", "OPEN"]', {"status": "OPEN"}) is True
    assert value('=status in ["NEW", "OPEN"]', {"status": "DONE"}) is False
    assert value("=x in 3", {"x": 3}) is True


def test_if_then_else() -> None:
    text = '=if x > 1 then "big" else "small"'
    assert value(text, {"x": 5}) == "big"
    assert value(text, {"x": 0}) == "small"
    assert value(text) == "small"  # a null condition takes the else branch, as in FEEL
    assert value("=if a then if b then 1 else 2 else 3", {"a": True, "b": False}) == 2
    assert value("=1 + (if flag then 10 else 20)", {"flag": True}) == 11


def test_only_the_chosen_branch_decides() -> None:
    assert value('=if true then 1 else "x" + 1') == 1


def test_only_the_chosen_branch_is_evaluated() -> None:
    calls: list[list[object]] = []
    spy = FeelFunction("spy", ("x",), lambda args: calls.append(args) or 0)
    text = "if n > 0 then spy(n) else 0"
    assert compile_feel(text, user_functions=True).evaluate({"spy": spy, "n": -1}) == 0
    assert calls == []  # the then branch was never evaluated (recursion relies on it)
    assert compile_feel(text, user_functions=True).evaluate({"spy": spy, "n": 2}) == 0
    assert calls == [[2]]
    assert value("=if x = null then 0 else x + 1") == 0


def test_some_and_every() -> None:
    items = {"items": [{"price": 5}, {"price": 11}]}
    assert value("=some i in items satisfies i.price > 10", items) is True
    assert value("=every i in items satisfies i.price > 10", items) is False
    assert value("=every i in items satisfies i.price > 1", items) is True
    assert value("=some i in [] satisfies i > 1") is False
    assert value("=every i in [] satisfies i > 1") is True
    assert value("=some x in [1, 2], y in [2, 3] satisfies x = y") is True
    assert value("=some i in items satisfies i.missing > 1", items) is False


def test_for_return() -> None:
    assert value("=for x in xs return x * 2", {"xs": [1, 2, 3]}) == [2, 4, 6]
    assert value("=for x in [1, 2], y in [10, 20] return x + y") == [11, 21, 12, 22]
    assert value("=for o in orders return o.id", {"orders": [{"id": "a"}, {"id": "b"}]}) == ["a", "b"]
    assert value("=for x in xs, y in x return y", {"xs": [[1], [2, 3]]}) == [1, 2, 3]
    assert value("=for x in 5 return x") == [5]  # a single value iterates as a list of one


def test_filters_on_item() -> None:
    items = {"items": [{"price": 5}, {"price": 11}, {"price": 20}]}
    assert value("=items[item.price > 10]", items) == [{"price": 11}, {"price": 20}]
    assert value("=[1, 2, 3, 4][item > 2]") == [3, 4]
    assert value("=count(items[item.price > 10])", items) == 2
    assert value("=items[item.price > 10][1].price", items) == 11


def test_date_time_arithmetic_with_the_engine_clock() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert compile_value('=now() + duration("P3D")').evaluate({}, now=now) == "2024-05-04T12:00:00Z"
    assert compile_value('=now() - duration("PT30M")').evaluate({}, now=now) == "2024-05-01T11:30:00Z"
    assert compile_value("=date and time(due) < now()").evaluate({"due": "2024-04-30T00:00:00Z"}, now=now)
    assert value('=date and time("2024-05-02T00:00:00Z") - date and time("2024-05-01T00:00:00Z")') == "P1D"
    assert value('=duration("PT1H") * 2') == "PT2H"


def test_type_errors_are_null_with_a_warning() -> None:
    # FEEL and Camunda 8 (feel-scala 1.17+): the failing operation is null, the evaluation goes on.
    null_with_warning('="a" + 1', match="cannot add string and number")
    null_with_warning("=x > 1", {"x": "a"}, match="cannot compare string with number")
    null_with_warning("=1 / x", {"x": 0}, match="division by zero")
    null_with_warning('="yes" and true', match="'and' expects booleans")
