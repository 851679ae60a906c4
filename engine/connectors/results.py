"""From a connector's answer to what happens to its job, driven by the task headers Camunda uses.

- `resultVariable`: the whole result (for HTTP: {status, headers, body}) goes into this variable.
- `resultExpression`: a FEEL (`=...`) or CEL (`cel:...`) expression evaluated against
  {"response": result}; it must give a context, whose entries become variables.
- `errorExpression`: evaluated after success (sees the job's variables, `response` and the
  result variables) and after a failure (sees the job's variables and `error`: {code, message,
  response}). It may give null (nothing to do), an error code string, `bpmnError(code, message
  [, variables])` (throw a BPMN error) or `jobError(message [, variables, retries, retryBackoff])`
  (fail the job). The two helpers are rewritten into FEEL contexts before compiling.
- `retryBackoff`: an ISO 8601 duration (Camunda templates write `PT0S`) used when the job fails;
  without it the engine's default backoff policy applies.
"""

from __future__ import annotations

from typing import Any

from engine.connectors.base import ConnectorError, Invocation, Outcome, Result
from engine.expressions import EvaluationError, Expression, ExpressionError, compile_cel, compile_feel
from engine.expressions.temporal import parse_duration

# Camunda connector helper functions and the names of their arguments, in order.
_HELPERS = {
    "bpmnError": ("code", "message", "variables"),
    "jobError": ("message", "variables", "retries", "retryBackoff"),
}
_REQUIRED = {"bpmnError": 2, "jobError": 1}


def compile_expression(text: str, what: str, bare: str = "feel") -> Expression:
    """`=...` is FEEL, `cel:...` is CEL, anything else is `bare` (FEEL for Camunda headers)."""
    stripped = text.strip()
    try:
        if stripped.startswith("cel:") or (bare == "cel" and not stripped.startswith("=")):
            return compile_cel(stripped)
        return compile_feel(stripped)
    except ExpressionError as exc:
        raise ConnectorError("INVALID_EXPRESSION", f"{what}: {exc.message} in '{text}'", retryable=False) from None


def evaluate(text: str, what: str, variables: dict[str, Any], inv: Invocation, bare: str = "feel") -> Any:
    expression = compile_expression(text, what, bare)
    try:
        return expression.evaluate(variables, now=inv.now)
    except EvaluationError as exc:
        raise ConnectorError("EXPRESSION_FAILED", f"{what}: {exc.message}", retryable=False) from None


def decide(inv: Invocation, result: Result | None, error: ConnectorError | None) -> Outcome:
    """The outcome of one connector run (result or error), after the task's result and error headers."""
    try:
        if error is None:
            assert result is not None
            variables = result_variables(inv, result)
            context = {**inv.variables, "response": result.value, **variables}
            return _error_expression(inv, context) or Outcome("complete", variables=variables)
        context = {
            **inv.variables,
            "error": {"code": error.code, "message": error.message, "response": error.response},
        }
        return _error_expression(inv, context) or failure(inv, error)
    except ConnectorError as exc:  # a result or error expression that is wrong: retrying cannot help
        return failure(inv, exc)


def result_variables(inv: Invocation, result: Result) -> dict[str, Any]:
    name = (inv.headers.get("resultVariable") or "").strip()
    expression = (inv.headers.get("resultExpression") or "").strip()
    if not name and not expression:
        return dict(result.variables)
    variables: dict[str, Any] = {}
    if name:
        variables[name] = result.value
    if expression:
        mapped = evaluate(expression, "resultExpression", {"response": result.value}, inv)
        if isinstance(mapped, dict):
            variables.update(mapped)
        elif mapped is not None:
            raise ConnectorError(
                "INVALID_RESULT", f"resultExpression must give a context (e.g. ={{id: response.body.id}}), "
                f"not {type(mapped).__name__}", retryable=False,
            )
    return variables


def failure(inv: Invocation, error: ConnectorError, retries: int | None = None) -> Outcome:
    if retries is None:
        retries = inv.retries - 1 if error.retryable else 0
    message = error.message if error.retryable else f"{error.message} (not retried: a new attempt cannot succeed)"
    return Outcome("fail", message=message, retries=max(0, retries), backoff_ms=_backoff_ms(inv, None))


def _error_expression(inv: Invocation, context: dict[str, Any]) -> Outcome | None:
    text = (inv.headers.get("errorExpression") or "").strip()
    if not text:
        return None
    try:
        rewritten = rewrite_helpers(text)
    except ValueError as exc:
        raise ConnectorError("INVALID_EXPRESSION", f"errorExpression: {exc}", retryable=False) from None
    value = evaluate(rewritten, "errorExpression", context, inv)
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        return Outcome("error", code=value)
    if isinstance(value, dict) and value.get("errorType") == "jobError":
        retries = value.get("retries")
        variables = value.get("variables")
        return Outcome(
            "fail",
            message=str(value.get("message") or "job error from errorExpression"),
            variables=variables if isinstance(variables, dict) else None,
            retries=max(0, int(retries)) if isinstance(retries, int | float) else max(0, inv.retries - 1),
            backoff_ms=_backoff_ms(inv, value.get("retryBackoff")),
        )
    if isinstance(value, dict) and value.get("code"):
        variables = value.get("variables")
        return Outcome(
            "error",
            code=str(value["code"]),
            message=str(value.get("message") or ""),
            variables=variables if isinstance(variables, dict) else None,
        )
    raise ConnectorError(
        "INVALID_ERROR_EXPRESSION",
        "errorExpression must give null, an error code, bpmnError(code, message) or jobError(message), "
        f"not {str(value)[:80]}",
        retryable=False,
    )


def _backoff_ms(inv: Invocation, override: Any) -> int | None:
    text = override if isinstance(override, str) and override else inv.headers.get("retryBackoff")
    if not text:
        return None
    try:
        return max(0, int(parse_duration(text).total_seconds() * 1000))
    except ValueError:
        return None  # a bad duration falls back to the default policy rather than failing the job


# --- bpmnError() / jobError() ---------------------------------------------------------------------


def rewrite_helpers(text: str) -> str:
    """Replace bpmnError(...) and jobError(...) calls by FEEL contexts with an `errorType` entry."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            k = j
            while k < n and text[k].isspace():
                k += 1
            if word in _HELPERS and k < n and text[k] == "(" and (i == 0 or text[i - 1] != "."):
                close, args = _arguments(text, k)
                names = _HELPERS[word]
                if not _REQUIRED[word] <= len(args) <= len(names):
                    raise ValueError(f"{word}() takes {_REQUIRED[word]} to {len(names)} arguments, got {len(args)}")
                entries = [f'errorType: "{word}"']
                entries += [f"{name}: {rewrite_helpers(args[idx]) if idx < len(args) else 'null'}"
                            for idx, name in enumerate(names)]
                out.append("{" + ", ".join(entries) + "}")
                i = close + 1
                continue
            out.append(word)
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    raise ValueError("unterminated string")


def _arguments(text: str, open_at: int) -> tuple[int, list[str]]:
    """Index of the matching ")" and the top-level arguments between the parentheses."""
    depth = 0
    args: list[str] = []
    start = open_at + 1
    i = open_at
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _string_end(text, i)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                last = text[start:i].strip()
                if last or args:
                    args.append(last)
                return i, args
        elif ch == "," and depth == 1:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    raise ValueError("unbalanced parentheses")
