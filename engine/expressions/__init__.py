"""The engine's expression layer: CEL natively, and FEEL (DMN 1.5 chapter 10) for BPMN and DMN.

    expr = compile_value("=amount > 100")       # at deploy time; raises ExpressionError
    expr.evaluate_bool({"amount": 150})         # at run time; raises EvaluationError

Modules:
    expression.py      Expression and the compile_* functions (caching, shortcuts, binding);
                       feel_lambda, the value of a FEEL function definition
    feel_lexer.py      FEEL tokens, including the rule for names with spaces
    feel_parser.py     FEEL syntax tree (functions, ranges, instance of, invocation...)
    feel.py            FEEL syntax tree -> CEL source; how variables are resolved
    feel_operators.py  FEEL semantics of operators, paths, indexes, ranges, instance of
    feel_builtins.py   FEEL built-in functions as celpy functions
    feel_temporal.py   FEEL's date, time, date and time and the two durations
    feel_regex.py      XPath regular expressions (matches, replace, split) on `regex`, with a timeout
    feel_ranges.py     the range functions (before, after, meets, overlaps, includes...) and range()
    cel.py             celpy parsing, programs (a lazy ternary), the scan for variables and functions
    cel_functions.py   the CEL dialect's function table; equality and ordering for both
    values.py          celpy values <-> plain JSON-able Python, in one place
    temporal.py        ISO 8601 text <-> Python date-times and durations (timers, connectors)
    errors.py          ExpressionError (deploy time), EvaluationError (run time), warnings

Semantics in short (details in feel.py and feel_operators.py):
- A variable that is not set reads as null, in FEEL and in CEL alike; `x = null` is then true.
- FEEL: null flows through operators and functions (null + 1 is null), and a part that fails
  (operands of the wrong type, division by zero, a bad argument to a built-in, a path into a
  string) is null too, as in FEEL and Camunda 8 (feel-scala 1.17+), for BPMN and DMN alike.
  The reasons are warnings: `expr.explain(variables)` lists them (errors.warn collects them only
  then), and evaluate_bool/evaluate_str name them in the EvaluationError they raise for a null.
  A number outside a function's domain is null as well (sqrt(-1), log(0), modulo(x, 0)).
- Numbers are decimals (values.FeelDecimal: Decimal128, 34 digits) in operators and built-ins.
- FEEL `if` evaluates only the branch its condition picks.
- CEL keeps CEL's semantics (strict arithmetic, `int` names the type), plus comparisons
  across int and double and `x != null` for any x, as in the current CEL specification.
- A condition (evaluate_bool) must be exactly true or false; null is an EvaluationError.
- CEL keeps CEL's errors: `cel:"a" + 1` is an EvaluationError, not null.
- now()/today() (FEEL) and `now` (CEL) read the clock passed as evaluate(..., now=...); an
  expression that reads the clock without one raises EvaluationError. The engine never
  reads the wall clock inside processors.
- Results are plain Python: ints stay ints, decimals are floats, contexts are dicts,
  dates, times, date-times and durations are their ISO 8601 text ("2024-05-01",
  "2024-05-01T10:00:00@Europe/Paris", "P1Y2M"), unless evaluate(feel_values=True) asks for
  the feel_temporal values themselves (DMN passes them from decision to decision).
"""

from .errors import EvaluationError, ExpressionError, InvocationError
from .expression import (
    Expression,
    compile_cel,
    compile_condition,
    compile_expression,
    compile_feel,
    compile_value,
)
from .values import FeelFunction, as_json

__all__ = [
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "FeelFunction",
    "InvocationError",
    "as_json",
    "compile_cel",
    "compile_condition",
    "compile_expression",
    "compile_feel",
    "compile_value",
]
