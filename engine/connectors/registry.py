"""Reserved job types that FlowSync runs itself, each mapped to its connector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.connectors import email, http, transform
from engine.connectors.base import Invocation, Result


@dataclass(frozen=True)
class Connector:
    job_type: str
    run: Callable[[Invocation], Result]
    # False: the connector reads only what the element's input mappings set (when it has any),
    # so a process variable that happens to be called `body` or `url` cannot leak into a request.
    reads_all_variables: bool = False
    # `{{secrets.NAME}}` in its inputs is resolved when it runs (engine/secrets.py): the HTTP connectors only.
    uses_secrets: bool = False


CONNECTORS: dict[str, Connector] = {
    c.job_type: c
    for c in (
        Connector("io.camunda:http-json:1", http.run_camunda, uses_secrets=True),
        Connector("flowsync:http", http.run_flowsync, uses_secrets=True),
        Connector("flowsync:transform", transform.run, reads_all_variables=True),
        Connector("flowsync:email", email.run),
    )
}
TYPES = frozenset(CONNECTORS)


def connector_for(job_type: str) -> Connector | None:
    return CONNECTORS.get(job_type)
