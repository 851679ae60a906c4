"""DMN decisions: DMN 1.3–1.5 XML -> a decision graph, evaluated with the engine's FEEL.

    definitions = parse_dmn(xml_bytes, "rules.dmn")          # raises DefinitionError
    results = evaluate(definitions, "Approval Status", {"Age": 18})   # {decision name: value}

Modules:
    model.py     the parsed decisions (tables, literal expressions, boxed contexts and lists)
    parser.py    XML -> model, with the BPMN layer's safe lxml parser
    unary.py     unary tests (`< 5`, `[1..10]`, `"a", "b"`, `not(...)`, `-`, `?`-expressions)
    tables.py    decision tables: matching rules, hit policies, aggregations
    evaluate.py  the DRG: required decisions first, then the decision's logic

Expressions are FEEL, compiled once through engine.expressions (a FEEL -> CEL translation).
A FEEL run-time failure (a type error...) gives null, as FEEL says; the one FEEL of engine.expressions
does that for BPMN too, where the place the value goes decides whether a null is an incident.
Business knowledge models, boxed functions and decision services are FeelFunction values that
expressions call by name (compile_feel(..., user_functions=True)). Declared typeRefs convert
inputs and results (types.py). Dates, times and durations stay FEEL values from decision to
decision and leave evaluate() as ISO 8601 text.

Imports (<import namespace name>): a decision may require decisions of other models
("namespace#id" in Decision.required_decisions); evaluate(..., models={namespace: Definitions})
gives them. An imported decision is evaluated in its own model and its value is
`prefix.decision name` to the importer; the imported model's business knowledge models and
decision services are callable as `prefix.name(...)`, its item definitions type as `prefix.tName`.
It sees the importer's inputs, overridden by those under its prefix (`{"Model B": {...}}`).

Measured by the DMN TCK (bench/dmn_tck.py; tests/engine/dmn/test_dmn__tck.py holds the floor):
967 of the 970 cases in ../shared/dmn-tck pass. The three that do not are all in the TCK's own
non-compliant folder (cases the TCK keeps but does not count as the standard):
- non-compliant/0015-all-any (2): expects the *string* "true"/"false" from a boolean table;
- non-compliant/0019-flight-rebooking: expects numbers as strings and a rebooking order that
  depends on unspecified iteration details.
"""

from .errors import DecisionError
from .evaluate import evaluate
from .parser import parse_dmn

__all__ = ["DecisionError", "evaluate", "parse_dmn"]
