"""What a connector is given, what it returns, and how it reports failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Invocation:
    """One connector job, as a connector sees it. Connectors never touch the database."""

    job_key: int
    job_type: str
    retries: int
    headers: dict[str, str]
    # The variables the job's element sees after its input mappings were applied.
    variables: dict[str, Any]
    # The names the element's input mappings set (first part of each target).
    inputs: tuple[str, ...]
    now: datetime
    # The longest the connector may take: well below the job's lock timeout.
    budget_seconds: float


@dataclass(frozen=True)
class Result:
    """A connector's answer: `value` is what result and error expressions see as `response`."""

    value: Any
    # Variables to set when the task has neither a resultVariable nor a resultExpression header.
    variables: dict[str, Any] = field(default_factory=dict)
    # What the connector sent and got, for the step's log (truncated, secrets masked).
    log: tuple[str, ...] = ()


class ConnectorError(Exception):
    """The connector could not do its work. `retryable` False: a new attempt cannot help (bad input)."""

    def __init__(self, code: str, message: str, *, retryable: bool = True, response: Any = None,
                 log: tuple[str, ...] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.response = response
        self.log = log


@dataclass(frozen=True)
class Outcome:
    """What the runner does with the job: complete it, fail it, or throw a BPMN error."""

    kind: str  # "complete" | "fail" | "error"
    variables: dict[str, Any] | None = None
    message: str = ""
    code: str = ""
    retries: int = 0  # fail: retries left
    backoff_ms: int | None = None  # fail: None = the default backoff policy
    log: tuple[str, ...] = ()  # the connector's log lines for this attempt (kept as the step's log)
