"""BPMN 2.0 XML (with Camunda 8 `zeebe:` extensions) → engine.graph.Graph."""

from engine.bpmn.errors import DefinitionError, Problem
from engine.bpmn.parser import parse_bpmn

__all__ = ["DefinitionError", "Problem", "parse_bpmn"]
