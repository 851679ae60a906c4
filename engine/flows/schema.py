"""The published JSON Schema (draft 2020-12) of a flow document, built from one table of node options.

Strings in flows follow one convention: a *value* (a URL, a header, a job input) is static text
unless it starts with `=` (FEEL) or `cel:` (CEL); an *expression* (a transform entry, a condition,
an edge guard, an output) is always evaluated: `=` FEEL, `cel:` or bare text CEL.
"""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://flowsync.dev/schemas/flow.json"
ID_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
JOIN_RULES = ("all_success", "one_success", "all_done", "none_failed")
DURATION = {"type": "string", "minLength": 1, "description": "ISO 8601 duration (PT30S) or an expression"}
VALUE = {"description": "static text, or an expression starting with '=' (FEEL) or 'cel:' (CEL); JSON otherwise"}
EXPRESSION = {"type": "string", "minLength": 1, "description": "'=…' FEEL, or CEL ('cel:…' or bare)"}
STATUS = {"anyOf": [{"type": "integer", "minimum": 100, "maximum": 599},
                   {"type": "string", "pattern": "^([1-5]xx|[1-5][0-9][0-9])$"}]}
NAMES = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

RETRY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "on": {"type": "array", "minItems": 1, "uniqueItems": True,
               "items": {"type": "string", "pattern": "^([1-5]xx|[1-5][0-9][0-9]|timeout|connection|[A-Z][A-Z0-9_]*)$"},
               "description": "which failures retry (default all): '5xx', '429', 'timeout', 'connection' or "
                              "an error code; any other failure fails the node at once"},
        "backoff": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "initial": DURATION, "multiplier": {"type": "number", "minimum": 1, "maximum": 10},
                "max": DURATION, "jitter": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
    },
}

# Options every node may carry.
COMMON: dict[str, Any] = {
    "id": {"type": "string", "pattern": ID_PATTERN},
    "kind": {"type": "string"},
    "name": {"type": "string", "maxLength": 255},
    "description": {"type": "string"},
    "join": {"enum": list(JOIN_RULES)},
}
# Output mapping of nodes that produce a result: only these variables reach the run (a FEEL/CEL expression each,
# over the run's variables and what the node produced).
OUTPUT = {"output": {"type": "object", "minProperties": 1, "additionalProperties": EXPRESSION,
                     "propertyNames": {"pattern": ID_PATTERN},
                     "description": "variable → expression over what the node produced; only these reach the run"}}
# Options of nodes that do work that can fail (a job or a call out).
WORK: dict[str, Any] = {
    "retry": RETRY,
    "timeout": DURATION,
    "on_failure": {"enum": ["fail_run", "continue"]},
}

# kind → (its own options, required options). One entry per node kind.
KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "http": ({
        **OUTPUT,
        **WORK,
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
        "url": {"type": "string", "minLength": 1, **VALUE},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "query": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": VALUE,
        "result": {"type": "string", "pattern": ID_PATTERN, "description": "variable for {status, headers, body}"},
        "expected_statuses": {"type": "array", "minItems": 1, "uniqueItems": True, "items": STATUS,
                              "description": "statuses that succeed (default: 2xx); any other status fails"},
        "idempotency_header": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$",
                               "description": "request header carrying a key per attempt (job key-retries left)"},
    }, ["url"]),
    "transform": ({
        "set": {"type": "object", "minProperties": 1, "additionalProperties": EXPRESSION,
                "propertyNames": {"pattern": ID_PATTERN}},
    }, ["set"]),
    "condition": ({"expression": EXPRESSION}, ["expression"]),
    "switch": ({}, []),
    "delay": ({"duration": DURATION, "until": {"type": "string", "minLength": 1, **VALUE}}, []),
    "job": ({
        **OUTPUT,
        **WORK,
        "type": {"type": "string", "minLength": 1},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "inputs": {"type": "object", "propertyNames": {"pattern": ID_PATTERN}},
    }, ["type"]),
    "user_task": ({
        **OUTPUT,
        "timeout": DURATION,
        "on_failure": WORK["on_failure"],
        "assignee": {"type": "string"},
        "candidate_groups": NAMES,
        "candidate_users": NAMES,
        "due_date": {"type": "string"},
        "priority": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "form_id": {"type": "string"},
    }, []),
    "email": ({
        **WORK,
        "to": {"type": "string", "minLength": 1}, "subject": {"type": "string"}, "body": {"type": "string"},
        "from": {"type": "string"},
    }, ["to"]),
    "wait_for_event": ({
        **OUTPUT,
        "timeout": DURATION,
        "on_failure": WORK["on_failure"],
        "message": {"type": "string", "minLength": 1},
        "correlation": {"type": "string", "minLength": 1, **VALUE},
    }, ["message"]),
    "subflow": ({
        **OUTPUT,
        "timeout": DURATION,
        "on_failure": WORK["on_failure"],
        "flow": {"type": "string", "minLength": 1, "description": "id of a flow or a BPMN process"},
        "version": {"type": "integer", "minimum": 1, "description": "pinned version (default: the latest)"},
    }, ["flow"]),
    "fail": ({"code": {"type": "string", "minLength": 1}, "message": {"type": "string"}}, []),
}


def _node_schema(kind: str) -> dict[str, Any]:
    own, required = KINDS[kind]
    return {
        "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
        "then": {"properties": {**COMMON, **own}, "required": ["id", "kind", *required],
                 "additionalProperties": False},
    }


TRIGGER = {
    "type": "object",
    "required": ["id", "kind"],
    "properties": {"id": {"type": "string", "pattern": ID_PATTERN},
                   "kind": {"enum": ["webhook", "schedule", "event"]}},
    "allOf": [
        {"if": {"properties": {"kind": {"const": "webhook"}}},
         "then": {"additionalProperties": False, "properties": {
             "id": True, "kind": True, "enabled": {"type": "boolean"},
             "auth": {"enum": ["none", "hmac", "bearer"]},
             "delivery_id_header": {"type": "string", "minLength": 1},
             "tolerance_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
             "filter": {**EXPRESSION, "description": "over method, headers, query, body; false: recorded, no run"},
             "input": {"type": "object", "additionalProperties": EXPRESSION, "propertyNames": {"pattern": ID_PATTERN},
                       "description": "the run's input: name → expression over method, headers, query, body"},
             "respond": {"type": "boolean", "description": "wait for the run and answer with its output"},
             "respond_timeout_ms": {"type": "integer", "minimum": 1, "maximum": 30000},
             "rate_limit": {"type": "integer", "minimum": 1, "maximum": 100000,
                            "description": "deliveries per second (burst: twice that); over it: 429"},
         }}},
        {"if": {"properties": {"kind": {"const": "event"}}},
         "then": {"additionalProperties": False, "oneOf": [{"required": ["message"]}, {"required": ["after"]}],
                  "properties": {
             "id": True, "kind": True, "enabled": {"type": "boolean"},
             "message": {"type": "string", "minLength": 1,
                         "description": "a message name: POST /v2/messages/publication starts a run"},
             "after": {"type": "object", "additionalProperties": False, "required": ["flow"], "properties": {
                 "flow": {"type": "string", "minLength": 1, "description": "id of a flow or a BPMN process"},
                 "on": {"type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"enum": ["completed", "failed", "canceled"]},
                        "description": "how the other run ended (default: completed)"},
             }, "description": "start a run when a run of another flow or process ends"},
             "filter": {**EXPRESSION, "description": "over flow, version, executionId, status, variables"},
             "input": {"type": "object", "additionalProperties": EXPRESSION, "propertyNames": {"pattern": ID_PATTERN},
                       "description": "the run's input: name → expression (default: the other run's variables)"},
         }}},
        {"if": {"properties": {"kind": {"const": "schedule"}}},
         "then": {"additionalProperties": False, "oneOf": [{"required": ["cron"]}, {"required": ["every"]}],
                  "properties": {
             "id": True, "kind": True, "enabled": {"type": "boolean"},
             "cron": {"type": "string", "description": "five cron fields"},
             "every": {"type": "string", "minLength": 1, "description": "a fixed interval (ISO 8601: PT15M)"},
             "timezone": {"type": "string", "minLength": 1, "description": "IANA zone of the cron times (UTC)"},
             "input": {"type": "object"},
             "misfire": {"type": "object", "additionalProperties": False, "properties": {
                 "policy": {"enum": ["run_once", "skip", "catch_up"]},
                 "cap": {"type": "integer", "minimum": 1, "maximum": 1000}}},
         }}},
    ],
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "FlowSync flow",
    "description": "A JSON DAG workflow: nodes joined by edges, compiled into the engine's executable graph.",
    "type": "object",
    "required": ["id", "nodes"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "id": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,254}$"},
        "name": {"type": "string", "maxLength": 255},
        "description": {"type": "string"},
        "version": {"description": "assigned on deploy; ignored when given"},
        "inputs": {"type": "object", "description": "JSON Schema the input of a run must satisfy"},
        "start": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                  "description": "entry node(s); default: every node without incoming edges"},
        "nodes": {
            "type": "array", "minItems": 1, "maxItems": 500,
            "items": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {"kind": {"enum": list(KINDS)}},
                "allOf": [_node_schema(kind) for kind in KINDS],
            },
        },
        "edges": {
            "type": "array", "maxItems": 2000,
            "items": {
                "type": "object",
                "required": ["from", "to"],
                "additionalProperties": False,
                "properties": {
                    "from": {"type": "string"}, "to": {"type": "string"},
                    "when": EXPRESSION,
                    "branch": {"enum": ["true", "false"], "description": "out of a condition node"},
                    "default": {"type": "boolean", "description": "the default edge out of a switch node"},
                    "on": {"enum": ["success", "failure"],
                           "description": "failure: taken (only) when the node fails after its retries or times out"},
                },
            },
        },
        "output": {"type": "object", "additionalProperties": EXPRESSION,
                   "description": "the run's output: name → expression over the final variables"},
        "triggers": {"type": "array", "maxItems": 20, "items": TRIGGER},
    },
    "examples": [{
        "id": "order-check",
        "nodes": [
            {"id": "fetch", "kind": "http", "url": "=baseUrl + \"/orders/\" + orderId",
             "retry": {"max_attempts": 3, "backoff": {"initial": "PT1S", "multiplier": 2}}},
            {"id": "big", "kind": "condition", "expression": "fetch.body.total > 100"},
            {"id": "review", "kind": "user_task", "candidate_groups": ["sales"]},
            {"id": "done", "kind": "transform", "set": {"status": "'checked'"}, "join": "one_success"},
        ],
        "edges": [
            {"from": "fetch", "to": "big"},
            {"from": "big", "to": "review", "branch": "true"},
            {"from": "big", "to": "done", "branch": "false"},
            {"from": "review", "to": "done"},
        ],
        "output": {"status": "status"},
        "triggers": [{"id": "incoming", "kind": "webhook", "auth": "hmac"}],
    }],
}
