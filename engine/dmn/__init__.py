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
A FEEL run-time type error gives null, as FEEL says (the BPMN side raises an incident instead).
Business knowledge models, boxed functions and decision services are FeelFunction values that
expressions call by name (compile_feel(..., user_functions=True)).

Measured by the DMN TCK (bench/dmn_tck.py; tests/engine/dmn/test_dmn__tck.py holds the floor).
Known gaps, largest first:
- the temporal model: no time type, no local (zone-less) date-times or @zone names, no
  nanoseconds, no years-and-months durations, no negative/huge years (dates are ISO strings);
- FEEL: filters on element properties (`xs[a > 1]`), context entries that refer to earlier ones,
  `instance of`, ranges as values, function definitions in FEEL text, invoking an expression;
- boxed filter/some/every/conditional/relation (DMN 1.4+); imports; typeRef checks and
  coercions (singleton lists, allowed values);
- the FEEL -> CEL translation evaluates both branches of `if`, so recursive functions stop at a
  call-depth bound instead of their base case.
"""

from .errors import DecisionError
from .evaluate import evaluate
from .parser import parse_dmn

__all__ = ["DecisionError", "evaluate", "parse_dmn"]
