"""The transform connector (`flowsync:transform`): compute variables with an expression, no I/O.

The mapping is, in this order of precedence:
- the task header `mapping`: a CEL context (`{"total": order.amount * 2}`, optionally `cel:`-prefixed)
  or a FEEL one (`={total: order.amount * 2}`), evaluated against the job's variables;
- the input `mapping`: a context the engine already evaluated (`source="={...}"`), or expression
  text (a static `source="cel:{...}"` or `source="{...}"` is CEL).
Every entry of the resulting context becomes a variable (unless result headers say otherwise). As
for any job, a result named like one of the task's own input mappings updates that local variable
and does not reach the process: give results names of their own.
"""

from __future__ import annotations

from engine.connectors.base import ConnectorError, Invocation, Result
from engine.connectors.results import evaluate


def run(inv: Invocation) -> Result:
    header = (inv.headers.get("mapping") or "").strip()
    given = inv.variables.get("mapping") if "mapping" in inv.inputs else None
    variables = {k: v for k, v in inv.variables.items() if k != "mapping"}
    if header:
        mapped = evaluate(header, "mapping header", variables, inv, bare="cel")
    elif isinstance(given, str) and given.strip():
        mapped = evaluate(given, "mapping input", variables, inv, bare="cel")
    elif given is not None:
        mapped = given
    else:
        raise ConnectorError("INVALID_INPUT", "flowsync:transform needs a `mapping` task header or input",
                             retryable=False)
    if not isinstance(mapped, dict):
        raise ConnectorError(
            "INVALID_MAPPING", f"the transform mapping must give a context, not {type(mapped).__name__}",
            retryable=False,
        )
    return Result(mapped, dict(mapped))
