"""typeRef: declared types convert inputs and results; dates stay dates between decisions."""

from __future__ import annotations

import datetime as dt

from engine.dmn import evaluate, parse_dmn

NS = "https://www.omg.org/spec/DMN/20230324/MODEL/"

MODEL = f"""<?xml version="1.0"?>
<definitions xmlns="{NS}" id="d" name="d" namespace="n">
  <itemDefinition name="tDue"><typeRef>date</typeRef></itemDefinition>
  <inputData id="i_due" name="Due"><variable name="Due" typeRef="tDue"/></inputData>
  <inputData id="i_names" name="Names"><variable name="Names"/></inputData>
  <decision id="later" name="Later">
    <variable name="Later" typeRef="date"/>
    <informationRequirement><requiredInput href="#i_due"/></informationRequirement>
    <literalExpression><text>Due + @"P1M"</text></literalExpression>
  </decision>
  <decision id="month" name="Month">
    <variable name="Month" typeRef="string"/>
    <informationRequirement><requiredDecision href="#later"/></informationRequirement>
    <literalExpression><text>month of year(Later)</text></literalExpression>
  </decision>
  <decision id="first" name="First">
    <variable name="First" typeRef="string"/>
    <informationRequirement><requiredInput href="#i_names"/></informationRequirement>
    <literalExpression><text>Names[item = "John"]</text></literalExpression>
  </decision>
  <decision id="wrong" name="Wrong">
    <variable name="Wrong" typeRef="string"/>
    <literalExpression><text>1 + 1</text></literalExpression>
  </decision>
  <businessKnowledgeModel id="bkm" name="double">
    <encapsulatedLogic>
      <formalParameter name="x" typeRef="number"/>
      <literalExpression><text>x * 2</text></literalExpression>
    </encapsulatedLogic>
  </businessKnowledgeModel>
  <inputData id="i_v" name="V"><variable name="V"/></inputData>
  <decision id="doubled" name="Doubled">
    <informationRequirement><requiredInput href="#i_v"/></informationRequirement>
    <knowledgeRequirement><requiredKnowledge href="#bkm"/></knowledgeRequirement>
    <literalExpression><text>double(V)</text></literalExpression>
  </decision>
  <decision id="today" name="Today">
    <variable name="Today" typeRef="date"/>
    <literalExpression><text>today()</text></literalExpression>
  </decision>
</definitions>""".encode()


def test_a_date_input_given_as_text_computes_as_a_date_and_leaves_as_text() -> None:
    definitions = parse_dmn(MODEL, "types.dmn")
    results = evaluate(definitions, "Month", {"Due": "2024-01-31"})
    assert results == {"Later": "2024-02-29", "Month": "February"}


def test_text_that_is_no_date_is_null() -> None:
    assert evaluate(parse_dmn(MODEL, "types.dmn"), "Later", {"Due": "tomorrow"}) == {"Later": None}


def test_a_singleton_list_becomes_its_element_and_a_non_conforming_result_null() -> None:
    definitions = parse_dmn(MODEL, "types.dmn")
    assert evaluate(definitions, "First", {"Names": ["Ann", "John"]}) == {"First": "John"}
    assert evaluate(definitions, "Wrong", {}) == {"Wrong": None}


def test_today_reads_the_clock_the_evaluation_is_given() -> None:
    definitions = parse_dmn(MODEL, "types.dmn")
    now = dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC)
    assert evaluate(definitions, "Today", {}, now=now) == {"Today": "2026-12-02"}
    assert evaluate(definitions, "Today", {}) == {"Today": None}  # no clock: FEEL's null


def test_a_business_knowledge_model_argument_of_the_wrong_type_gives_null() -> None:
    definitions = parse_dmn(MODEL, "types.dmn")
    assert evaluate(definitions, "Doubled", {"V": 4}) == {"Doubled": 8}
    assert evaluate(definitions, "Doubled", {"V": "4"}) == {"Doubled": None}
