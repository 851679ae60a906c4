"""Built-in connectors: jobs of reserved types that FlowSync's own RQ workers run.

    registry.py   job type -> connector (HTTP, transform, email)
    runner.py     scheduling after commit and from the sweeper; activate, run outside any
                  transaction, then complete / fail / throw error through engine.actions.jobs
    results.py    resultVariable / resultExpression / errorExpression (Camunda connector headers)
    guard.py      the outbound allow-list, checked on every resolved address before connecting
    http.py, transform.py, email.py   the connectors themselves

docs/connectors.md describes types, inputs, results and settings.
"""
