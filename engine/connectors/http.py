"""The HTTP connector: Camunda's REST connector (`io.camunda:http-json:1`) and `flowsync:http`.

Inputs (the job's variables after the element's input mappings):
    method                      GET (default), POST, PUT, PATCH, DELETE, HEAD, OPTIONS
    url                         http:// or https:// (checked against the outbound allow-list)
    headers, queryParameters    contexts (or JSON text); `query` is accepted for flowsync:http
    body                        any JSON value, sent as JSON; text is sent as it is
    authentication              {type: noAuth | basic | bearer | apiKey, username, password, token,
                                 name, value, apiKeyLocation: headers | query}
    connectionTimeoutInSeconds, readTimeoutInSeconds (default 20; `timeout` sets both)
The result is {status, headers, body}: the body JSON-decoded when the response is JSON, else
text, at most CONNECTOR_HTTP_MAX_RESPONSE_BYTES. A non-2xx status, a network error or a timeout
fails the job (retried); a refused address, bad input or an oversized response fails it for good.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from engine.connectors import policy
from engine.connectors.base import ConnectorError, Invocation, Result
from engine.connectors.guard import AddressRefused, GuardedTransport, parse_policy

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5
_NO_BODY = object()


@dataclass
class Request:
    method: str
    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: Any = _NO_BODY
    connect_timeout: float = DEFAULT_TIMEOUT_SECONDS
    read_timeout: float = DEFAULT_TIMEOUT_SECONDS


def run_camunda(inv: Invocation) -> Result:
    """io.camunda:http-json:1: results only through resultVariable / resultExpression, as in Camunda."""
    return Result(send(parse_request(inv.variables), inv))


# Task header naming the request header that carries the attempt's idempotency key (JSON flows set it).
IDEMPOTENCY_HEADER = "flowsync:idempotencyHeader"


def run_flowsync(inv: Invocation) -> Result:
    """flowsync:http: without result headers, the result goes into the variable `response`."""
    request = parse_request(inv.variables)
    name = inv.headers.get(IDEMPOTENCY_HEADER)
    if name:
        # One key per attempt (the job and its retries left), the same when a crashed run's attempt is
        # sent again: a receiver that dedupes on it sees each attempt at most once.
        request.headers[name] = f"{inv.job_key}-{inv.retries}"
    sent = _sent_lines(request)
    started = time.monotonic()
    try:
        value = send(request, inv)
    except ConnectorError as exc:
        took = f"{(time.monotonic() - started) * 1000:.0f} ms"
        if exc.response is None:
            exc.log = (*sent, f"<- {exc.code}: {exc.message} ({took})")
            raise
        if not policy.expected(inv.headers, exc.response["status"]):
            exc.log = (*sent, *_got_lines(exc.response, took))
            raise
        value = exc.response  # a non-2xx status the node expects: a success
    took = f"{(time.monotonic() - started) * 1000:.0f} ms"
    got = _got_lines(value, took)
    if not policy.expected(inv.headers, value["status"]):
        raise ConnectorError(str(value["status"]), f"HTTP {value['status']} from {_shown(request)} is not one of "
                             f"the node's expected statuses", response=value, log=(*sent, *got))
    return Result(value, {"response": value}, log=(*sent, *got))


def _sent_lines(request: Request) -> tuple[str, ...]:
    """What a step's log shows of the request: secrets (by header/query/field name) masked, body clipped."""
    lines = [f"-> {_shown(request)}"]
    if request.params:
        lines.append(f"-> query {policy.clip(policy.masked(request.params))}")
    if request.headers:
        lines.append(f"-> headers {policy.clip(policy.masked(request.headers))}")
    if request.body is not _NO_BODY:
        lines.append(f"-> body {policy.clip(_masked_body(request.body))}")
    return tuple(lines)


def _got_lines(value: dict[str, Any], took: str) -> tuple[str, ...]:
    lines = [f"<- {value['status']} ({took})"]
    if value.get("headers", {}).get("content-type"):
        lines.append(f"<- content-type {value['headers']['content-type']}")
    if value.get("body") is not None:
        lines.append(f"<- body {policy.clip(_masked_body(value['body']))}")
    return tuple(lines)


def _masked_body(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: (policy.MASK if policy.secret_name(str(k)) else _masked_body(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_masked_body(v) for v in body]
    return body


# --- inputs -----------------------------------------------------------------------------------------


def _invalid(message: str) -> ConnectorError:
    return ConnectorError("INVALID_INPUT", message, retryable=False)


def _context(value: Any, name: str) -> dict[str, str]:
    """A context of strings from a context, JSON text, or nothing."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(f"`{name}` must be a context such as ={{\"X-Key\": \"value\"}}, not text") from None
    if not isinstance(value, dict):
        raise _invalid(f"`{name}` must be a context, not {type(value).__name__}")
    found = {str(k): _text(v) for k, v in value.items() if v is not None}
    for key, text in found.items():
        if any(c in key + text for c in "\r\n\0"):
            raise _invalid(f"`{name}` entry {key!r} contains a line break or NUL")
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _seconds(value: Any, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"`{name}` must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise _invalid(f"`{name}` must be positive")
    return seconds


def parse_request(variables: dict[str, Any]) -> Request:
    method = str(variables.get("method") or "GET").strip().upper()
    if method not in METHODS:
        raise _invalid(f"unsupported HTTP method {method!r} (use one of {', '.join(METHODS)})")
    raw_url = variables.get("url")
    if not isinstance(raw_url, str) or not raw_url.strip():
        raise _invalid("the HTTP connector needs a `url`")
    try:
        url = httpx.URL(raw_url.strip())
    except httpx.InvalidURL as exc:
        raise _invalid(f"invalid url {raw_url!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _invalid(f"the url must be an absolute http:// or https:// URL, not {raw_url!r}")
    timeout = variables.get("timeout")
    request = Request(
        method=method,
        url=url,
        headers=_context(variables.get("headers"), "headers"),
        params=_context(variables.get("queryParameters") or variables.get("query"), "queryParameters"),
        connect_timeout=_seconds(variables.get("connectionTimeoutInSeconds", timeout), "connectionTimeoutInSeconds",
                                 DEFAULT_TIMEOUT_SECONDS),
        read_timeout=_seconds(variables.get("readTimeoutInSeconds", timeout), "readTimeoutInSeconds",
                              DEFAULT_TIMEOUT_SECONDS),
    )
    if variables.get("body") is not None:
        request.body = variables["body"]
    _authenticate(request, variables.get("authentication"))
    return request


def _authenticate(request: Request, auth: Any) -> None:
    if auth is None:
        return
    if not isinstance(auth, dict):
        raise _invalid("`authentication` must be a context with a `type`")
    kind = str(auth.get("type") or "noAuth")
    if kind == "noAuth":
        return
    if kind == "basic":
        pair = f"{_text(auth.get('username') or '')}:{_text(auth.get('password') or '')}"
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif kind == "bearer":
        if not auth.get("token"):
            raise _invalid("bearer authentication needs `authentication.token`")
        request.headers["Authorization"] = f"Bearer {_text(auth['token'])}"
    elif kind == "apiKey":
        if not auth.get("name"):
            raise _invalid("apiKey authentication needs `authentication.name`")
        location = str(auth.get("apiKeyLocation") or "headers")
        target = request.params if location == "query" else request.headers
        target[_text(auth["name"])] = _text(auth.get("value") or "")
    else:
        raise _invalid(f"authentication type {kind!r} is not supported (noAuth, basic, bearer, apiKey)")


def derived_credentials(variables: dict[str, Any]) -> tuple[str, ...]:
    """Credentials this connector computes from its inputs (the Basic header's base64 of user:password), so
    that a receiver echoing them back has them scrubbed like the secrets they were made of."""
    auth = variables.get("authentication")
    if isinstance(auth, dict) and auth.get("type") == "basic":
        pair = f"{_text(auth.get('username') or '')}:{_text(auth.get('password') or '')}"
        return (base64.b64encode(pair.encode()).decode(),)
    return ()


# --- sending ----------------------------------------------------------------------------------------


def _shown(request: Request) -> str:
    """The URL for messages and incidents: no user info, no query (either may hold a secret)."""
    url = request.url
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port else ""
    return f"{request.method} {url.scheme}://{host}{port}{url.path}"


def _content(request: Request) -> tuple[bytes | None, str | None]:
    """The body bytes and the content type to send when the headers give none."""
    if request.body is _NO_BODY:
        return None, None
    if isinstance(request.body, str):
        try:
            json.loads(request.body)
            return request.body.encode(), "application/json"
        except ValueError:
            return request.body.encode(), "text/plain; charset=utf-8"
    return json.dumps(request.body, separators=(",", ":")).encode(), "application/json"


def send(request: Request, inv: Invocation) -> dict[str, Any]:
    """Send the request; the response as {status, headers, body}, or ConnectorError."""
    try:
        policy = parse_policy(settings.CONNECTOR_HTTP_ALLOW)
    except ValueError as exc:
        raise ConnectorError("CONFIGURATION", str(exc), retryable=False) from None
    budget = max(0.5, inv.budget_seconds)
    connect = min(request.connect_timeout, budget)
    read = min(request.read_timeout, budget)
    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
    content, content_type = _content(request)
    headers = dict(request.headers)
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    cap = settings.CONNECTOR_HTTP_MAX_RESPONSE_BYTES
    started = time.monotonic()
    client = httpx.Client(
        transport=GuardedTransport(policy), timeout=timeout, trust_env=False, follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
    try:
        with client.stream(request.method, request.url, headers=headers, params=request.params or None,
                           content=content) as response:
            body = _read(response, cap, started + budget, request)
    except AddressRefused as exc:
        raise ConnectorError("URL_NOT_ALLOWED", f"{_shown(request)}: {exc}", retryable=False) from None
    except httpx.TimeoutException:
        raise ConnectorError(
            "TIMEOUT", f"{_shown(request)} timed out (connect {connect:g}s, read {read:g}s)"
        ) from None
    except httpx.TooManyRedirects:
        raise ConnectorError("TOO_MANY_REDIRECTS", f"{_shown(request)}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.HTTPError as exc:
        raise ConnectorError("CONNECTION_ERROR", f"{_shown(request)} failed: {exc or type(exc).__name__}") from None
    finally:
        client.close()
    value = {
        "status": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "body": _decode(response, body),
    }
    if not 200 <= response.status_code < 300:
        snippet = body[:300].decode(response.encoding or "utf-8", errors="replace").strip()
        message = f"HTTP {response.status_code} {response.reason_phrase} from {_shown(request)}"
        raise ConnectorError(str(response.status_code), f"{message}: {snippet}" if snippet else message,
                             response=value)
    return value


def _read(response: httpx.Response, cap: int, deadline: float, request: Request) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ConnectorError("RESPONSE_TOO_LARGE", f"{_shown(request)}: the response ({declared} bytes) is "
                             f"larger than the limit of {cap} bytes", retryable=False)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise ConnectorError("RESPONSE_TOO_LARGE", f"{_shown(request)}: the response is larger than the "
                                 f"limit of {cap} bytes", retryable=False)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the response took too long", request=response.request)
    return b"".join(chunks)


def _decode(response: httpx.Response, body: bytes) -> Any:
    if not body:
        return None
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
