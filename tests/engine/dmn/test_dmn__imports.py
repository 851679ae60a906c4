"""DMN <import>: decisions, business knowledge models and item definitions of other models, named
with the import's prefix (DMN 1.5 §6.3.3), found among the models evaluate() is given by namespace."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.dmn import DecisionError, evaluate, parse_dmn
from engine.dmn.model import Definitions

NS = "https://www.omg.org/spec/DMN/20230324/MODEL/"
IMPORT_TYPE = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def model(name: str, body: str, imports: dict[str, str] | None = None) -> Definitions:
    tags = "".join(
        f'<import namespace="urn:{target}" name="{prefix}" importType="{IMPORT_TYPE}"/>'
        for prefix, target in (imports or {}).items()
    )
    xml = f'<definitions xmlns="{NS}" id="{name}" name="{name}" namespace="urn:{name}">{tags}{body}</definitions>'
    return parse_dmn(xml.encode(), f"{name}.dmn")


GREETING = model(
    "greeting",
    """
    <itemDefinition name="tBirthday"><typeRef>date</typeRef></itemDefinition>
    <inputData id="person" name="Person name"><variable name="Person name" typeRef="string"/></inputData>
    <decision id="greet" name="Greet the Person">
      <variable name="Greet the Person" typeRef="string"/>
      <informationRequirement><requiredInput href="#person"/></informationRequirement>
      <literalExpression><text>"Hello, " + Person name</text></literalExpression>
    </decision>
    <businessKnowledgeModel id="shout" name="shout">
      <encapsulatedLogic><formalParameter name="text" typeRef="string"/>
        <literalExpression><text>upper case(text) + "!"</text></literalExpression>
      </encapsulatedLogic>
    </businessKnowledgeModel>
    """,
)

# Two models that import the greeting, with a decision of the same id (ids are per namespace).
MIDDLE = model(
    "middle",
    """
    <decision id="same" name="Say Hello">
      <informationRequirement><requiredDecision href="urn:greeting#greet"/></informationRequirement>
      <literalExpression><text>"B: " + base.Greet the Person</text></literalExpression>
    </decision>
    """,
    {"base": "greeting"},
)
MIDDLE2 = model(
    "middle2",
    """
    <decision id="same" name="Say Hello Too">
      <informationRequirement><requiredDecision href="urn:greeting#greet"/></informationRequirement>
      <literalExpression><text>"B2: " + base.Greet the Person</text></literalExpression>
    </decision>
    """,
    {"base": "greeting"},
)
TOP = model(
    "top",
    """
    <decision id="top" name="Both">
      <informationRequirement><requiredDecision href="urn:middle#same"/></informationRequirement>
      <informationRequirement><requiredDecision href="urn:middle2#same"/></informationRequirement>
      <literalExpression><text>Model B.Say Hello + "; " + Model B2.Say Hello Too</text></literalExpression>
    </decision>
    """,
    {"Model B": "middle", "Model B2": "middle2"},
)
MODELS = {m.namespace: m for m in (GREETING, MIDDLE, MIDDLE2, TOP)}


def test_nested_imports_evaluate_each_decision_in_its_own_model() -> None:
    inputs = {"Person name": "Ada"}  # a plain input reaches every imported model
    assert evaluate(TOP, "Both", inputs, models=MODELS)["Both"] == "B: Hello, Ada; B2: Hello, Ada"


def test_inputs_under_the_import_prefixes_reach_that_model_only() -> None:
    inputs = {"Model B": {"base": {"Person name": "Bea"}}, "Model B2": {"base": {"Person name": "Cy"}}}
    assert evaluate(TOP, "Both", inputs, models=MODELS)["Both"] == "B: Hello, Bea; B2: Hello, Cy"


def test_an_imported_models_business_knowledge_model_is_called_with_its_prefix() -> None:
    caller = model(
        "caller",
        '<decision id="d" name="Loud"><literalExpression><text>lib.shout("hi")</text></literalExpression></decision>',
        {"lib": "greeting"},
    )
    assert evaluate(caller, "Loud", {}, models=MODELS)["Loud"] == "HI!"


def test_an_imported_item_definition_types_an_input() -> None:
    typed = model(
        "typed",
        """
        <inputData id="b" name="Birthday"><variable name="Birthday" typeRef="lib.tBirthday"/></inputData>
        <decision id="d" name="Year">
          <informationRequirement><requiredInput href="#b"/></informationRequirement>
          <literalExpression><text>Birthday.year</text></literalExpression>
        </decision>
        """,
        {"lib": "greeting"},
    )
    assert evaluate(typed, "Year", {"Birthday": "1990-05-01"}, models=MODELS)["Year"] == 1990
    assert evaluate(typed, "Year", {"Birthday": "not a date"}, models=MODELS)["Year"] is None


def test_a_decision_of_a_model_that_is_not_given_is_an_error_naming_it() -> None:
    with pytest.raises(DecisionError, match="urn:middle2.*not available"):
        evaluate(TOP, "Both", {"Person name": "Ada"}, models={m.namespace: m for m in (GREETING, MIDDLE)})
    unimported = model(
        "lost",
        '<decision id="d" name="D"><informationRequirement><requiredDecision href="urn:greeting#greet"/>'
        "</informationRequirement><literalExpression><text>1</text></literalExpression></decision>",
    )
    with pytest.raises(DecisionError, match="not imported"):
        evaluate(unimported, "D", {}, models=MODELS)


def test_a_decision_may_share_its_id_with_the_imported_one_it_requires() -> None:
    same_id = model(
        "same_id",
        '<decision id="greet" name="Framed"><informationRequirement><requiredDecision href="urn:greeting#greet"/>'
        "</informationRequirement><literalExpression><text>\"[\" + g.Greet the Person + \"]\"</text>"
        "</literalExpression></decision>",
        {"g": "greeting"},
    )
    assert evaluate(same_id, "Framed", {"Person name": "Al"}, models=MODELS)["Framed"] == "[Hello, Al]"


def test_models_importing_each_other_fail_instead_of_recursing() -> None:
    ping = model(
        "ping",
        '<decision id="p" name="P"><informationRequirement><requiredDecision href="urn:pong#q"/>'
        "</informationRequirement><literalExpression><text>1</text></literalExpression></decision>",
        {"other": "pong"},
    )
    pong = model(
        "pong",
        '<decision id="q" name="Q"><informationRequirement><requiredDecision href="urn:ping#p"/>'
        "</informationRequirement><literalExpression><text>1</text></literalExpression></decision>",
        {"other": "ping"},
    )
    with pytest.raises(DecisionError, match="'P' requires itself"):
        evaluate(ping, "P", {}, models={"urn:ping": ping, "urn:pong": pong}, now=dt.datetime.now(dt.UTC))


def test_the_parser_keeps_the_namespace_of_imported_requirements_only() -> None:
    assert TOP.decisions["top"].required_decisions == ("urn:middle#same", "urn:middle2#same")
    own = model(
        "own",
        '<decision id="a" name="A"><literalExpression><text>1</text></literalExpression></decision>'
        '<decision id="b" name="B"><informationRequirement><requiredDecision href="urn:own#a"/>'
        "</informationRequirement><literalExpression><text>A + 1</text></literalExpression></decision>",
    )
    assert own.decisions["b"].required_decisions == ("a",)
    assert evaluate(own, "B", {})["B"] == 2
    assert [(i.name, i.namespace) for i in TOP.imports] == [
        ("Model B", "urn:middle"),
        ("Model B2", "urn:middle2"),
    ]


def test_an_imported_models_input_data_is_named_with_its_prefix() -> None:
    reader = model(
        "reader",
        '<decision id="d" name="Shout"><informationRequirement><requiredInput href="urn:greeting#person"/>'
        "</informationRequirement><literalExpression><text>upper case(g.Person name)</text></literalExpression>"
        "</decision>",
        {"g": "greeting"},
    )
    assert evaluate(reader, "Shout", {"Person name": "ada"}, models=MODELS)["Shout"] == "ADA"
    assert evaluate(reader, "Shout", {"g": {"Person name": "bo"}}, models=MODELS)["Shout"] == "BO"
    assert evaluate(reader, "Shout", {}, models=MODELS)["Shout"] is None
