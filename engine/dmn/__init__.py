"""DMN decisions: DMN 1.3–1.5 XML -> a decision graph, evaluated with the engine's FEEL.

    definitions = parse_dmn(xml_bytes, "rules.dmn")          # raises DefinitionError
    results = evaluate(definitions, "Approval Status", {"Age": 18})   # {decision name: value}

Modules:
    model.py     the parsed decisions (tables, literal expressions, boxed contexts and lists)
    parser.py    XML -> model, with the BPMN layer's safe lxml parser
    unary.py     unary tests (`< 5`, `[1..10]`, `"a", "b"`, `not(...)`, `-`, `?`-expressions)
    tables.py    decision tables: matching rules, hit policies, aggregations
    evaluate.py  the DRG: required decisions first, then the decision's logic

Expressions are FEEL, compiled once through engine.expressions (a FEEL -> CEL translation);
what that FEEL subset cannot express makes the decision fail with DecisionError at evaluation.
"""

from .errors import DecisionError
from .evaluate import evaluate
from .parser import parse_dmn

__all__ = ["DecisionError", "evaluate", "parse_dmn"]
