"""Decision tables: hit policies, unary tests, defaults and required decisions, on small models."""

from __future__ import annotations

import pytest

from engine.bpmn.errors import DefinitionError
from engine.dmn import DecisionError, evaluate, parse_dmn

NS = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def table(policy: str, rules: list[tuple[str, str]], *, aggregation: str = "", output_values: str = "") -> bytes:
    rows = "".join(
        f"<rule><inputEntry><text>{test}</text></inputEntry><outputEntry><text>{out}</text></outputEntry></rule>"
        for test, out in rules
    )
    values = f"<outputValues><text>{output_values}</text></outputValues>" if output_values else ""
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    return f"""<?xml version="1.0"?>
<definitions xmlns="{NS}" id="d" name="d" namespace="n">
  <inputData id="i_x" name="x"/>
  <decision id="dec" name="Result">
    <informationRequirement><requiredInput href="#i_x"/></informationRequirement>
    <decisionTable hitPolicy="{policy}"{agg}>
      <input><inputExpression><text>x</text></inputExpression></input>
      <output name="out">{values}</output>
      {rows}
    </decisionTable>
  </decision>
  <decision id="twice" name="Twice">
    <informationRequirement><requiredDecision href="#dec"/></informationRequirement>
    <literalExpression><text>Result * 2</text></literalExpression>
  </decision>
</definitions>""".encode()


def run(model: bytes, x: object, decision: str = "Result") -> object:
    return evaluate(parse_dmn(model, "t.dmn"), decision, {"x": x})[decision]


RULES = [("&lt; 10", "1"), ("[5..20]", "2"), ("&gt;= 15, 100", "3"), ("-", "4")]


@pytest.mark.parametrize(
    ("policy", "aggregation", "x", "expected"),
    [
        ("FIRST", "", 7, 1),
        ("RULE ORDER", "", 7, [1, 2, 4]),
        ("COLLECT", "", 16, [2, 3, 4]),
        ("COLLECT", "SUM", 16, 9),
        ("COLLECT", "MIN", 16, 2),
        ("COLLECT", "MAX", 100, 4),
        ("COLLECT", "COUNT", 7, 3),
    ],
)
def test_hit_policies(policy: str, aggregation: str, x: int, expected: object) -> None:
    assert run(table(policy, RULES, aggregation=aggregation), x) == expected


def test_sum_aggregation_is_decimal() -> None:
    rules = [("-", "0.1"), ("-", "0.2"), ("&gt; 5", "0.7")]
    assert run(table("COLLECT", rules, aggregation="SUM"), 1) == 0.3  # not 0.30000000000000004
    assert run(table("COLLECT", rules, aggregation="SUM"), 9) == 1  # and a whole sum is an int
    assert type(run(table("COLLECT", rules, aggregation="SUM"), 9)) is int


def test_priority_and_output_order_follow_the_output_values() -> None:
    rules = [("&lt; 10", '"low"'), ("&lt; 20", '"high"'), ("-", '"mid"')]
    values = '"high", "mid", "low"'
    assert run(table("PRIORITY", rules, output_values=values), 5) == "high"
    assert run(table("OUTPUT ORDER", rules, output_values=values), 5) == ["high", "mid", "low"]
    assert run(table("PRIORITY", rules, output_values=values), 50) == "mid"


def test_unique_refuses_two_hits_and_any_refuses_different_outputs() -> None:
    with pytest.raises(DecisionError, match="UNIQUE"):
        run(table("UNIQUE", RULES), 7)
    with pytest.raises(DecisionError, match="ANY"):
        run(table("ANY", RULES), 7)
    assert run(table("ANY", [("&lt; 10", "1"), ("&lt; 20", "1")]), 5) == 1


def test_unary_tests_negation_null_question_mark_and_lists() -> None:
    rules = [('not("a", "b")', '"neither"'), ("null", '"null"'), ("? &gt; 3", '"big"'), ("[1, 2]", '"list"')]
    model = table("FIRST", rules)
    assert run(model, "c") == "neither"
    assert run(model, "a") is None
    assert run(model, 5) == "neither"  # a number is neither string
    assert run(table("FIRST", rules[1:]), None) == "null"
    assert run(table("FIRST", rules[2:]), 5) == "big"
    assert run(table("FIRST", rules[2:]), 2) == "list"


def test_no_match_is_null_and_required_decisions_run_first() -> None:
    model = table("UNIQUE", [("&lt; 10", "1")])
    assert run(model, 50) is None
    assert run(model, 3, "Twice") == 2


def test_doctype_is_refused() -> None:
    with pytest.raises(DefinitionError):
        parse_dmn(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><definitions/>', "t.dmn")


BKM_MODEL = f"""<?xml version="1.0"?>
<definitions xmlns="{NS}" id="d" name="d" namespace="n">
  <inputData id="i_x" name="x"/>
  <businessKnowledgeModel id="b" name="Double It">
    <encapsulatedLogic>
      <formalParameter name="n"/>
      <literalExpression><text>n * 2</text></literalExpression>
    </encapsulatedLogic>
  </businessKnowledgeModel>
  <decision id="lit" name="Literal Call">
    <literalExpression><text>Double It(x) + Double It(n: 1)</text></literalExpression>
  </decision>
  <decision id="boxed" name="Boxed Call">
    <invocation>
      <literalExpression><text>Double It</text></literalExpression>
      <binding><parameter name="n"/><literalExpression><text>x + 1</text></literalExpression></binding>
    </invocation>
  </decision>
</definitions>""".encode()


def test_business_knowledge_models_are_called_from_feel_and_boxed_invocations() -> None:
    assert run(BKM_MODEL, 5, "Literal Call") == 12
    assert run(BKM_MODEL, 5, "Boxed Call") == 12


SERVICE_MODEL = f"""<?xml version="1.0"?>
<definitions xmlns="{NS}" id="d" name="d" namespace="n">
  <inputData id="i_x" name="x"/>
  <decisionService id="s" name="Greet">
    <outputDecision href="#out"/>
    <inputDecision href="#who"/>
  </decisionService>
  <decision id="who" name="Who"><literalExpression><text>"world"</text></literalExpression></decision>
  <decision id="out" name="Greeting">
    <informationRequirement><requiredDecision href="#who"/></informationRequirement>
    <literalExpression><text>"hello " + Who</text></literalExpression>
  </decision>
  <decision id="call" name="Call"><literalExpression><text>Greet("you")</text></literalExpression></decision>
</definitions>""".encode()


def test_decision_services_take_their_input_decisions_as_parameters() -> None:
    definitions = parse_dmn(SERVICE_MODEL, "t.dmn")
    assert evaluate(definitions, "Greeting", {})["Greeting"] == "hello world"
    assert evaluate(definitions, "Greet", {"Who": "there"})["Greet"] == "hello there"
    assert evaluate(definitions, "Call", {})["Call"] == "hello you"


def _lit(text: str) -> str:
    return f"<literalExpression><text>{text}</text></literalExpression>"


BOXED_MODEL = f"""<?xml version="1.0"?>
<definitions xmlns="{NS}" id="d" name="d" namespace="n">
  <decision id="f" name="Filter">
    <filter><in>{_lit("[{a: 1}, {a: 5}]")}</in><match>{_lit("a &gt; 2")}</match></filter>
  </decision>
  <decision id="s" name="Some">
    <some iteratorVariable="e"><in>{_lit("[1, 2]")}</in><satisfies>{_lit("e = 2")}</satisfies></some>
  </decision>
  <decision id="v" name="Every">
    <every iteratorVariable="e"><in>{_lit("[1, 2]")}</in><satisfies>{_lit("e = 2")}</satisfies></every>
  </decision>
  <decision id="o" name="For">
    <for iteratorVariable="e"><in>{_lit("[1, 2]")}</in><return>{_lit("e * 10")}</return></for>
  </decision>
  <decision id="c" name="Conditional">
    <conditional><if>{_lit("1 &gt; 2")}</if><then>{_lit('"yes"')}</then><else>{_lit('"no"')}</else></conditional>
  </decision>
  <decision id="bad" name="Bad Filter">
    <filter><in>{_lit("[1, 2]")}</in><match>{_lit('"not a boolean"')}</match></filter>
  </decision>
</definitions>""".encode()


@pytest.mark.parametrize(
    ("decision", "expected"),
    [("Filter", [{"a": 5}]), ("Some", True), ("Every", False), ("For", [10, 20]), ("Conditional", "no"),
     ("Bad Filter", None)],
)
def test_dmn_15_boxed_filter_iterators_and_conditional(decision: str, expected: object) -> None:
    assert evaluate(parse_dmn(BOXED_MODEL, "t.dmn"), decision, {})[decision] == expected


def test_an_input_entry_may_be_any_expression_giving_a_range() -> None:
    model = table("UNIQUE", [('range("[1..5]")', '"low"'), ('range("(5..10]")', '"high"')])
    assert run(model, 3) == "low"
    assert run(model, 7) == "high"
    assert run(model, 11) is None
