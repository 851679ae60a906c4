"""The email connector (`flowsync:email`): one message through Django's mail backend.

Inputs: `to` (an address, a list, or text separated by commas/semicolons), `subject`, `body`,
optional `from` (default DEFAULT_FROM_EMAIL), optional `html` (an HTML alternative body).
Bad addresses or header injection fail the job for good; a mail server error is retried.
A worker that dies after the server accepted the message but before the job completed
sends it again when the job is retried (at least once, like every connector).
"""

from __future__ import annotations

import re
import smtplib
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, get_connection, send_mail
from django.core.validators import validate_email

from engine.connectors import policy
from engine.connectors.base import ConnectorError, Invocation, Result


def _invalid(message: str) -> ConnectorError:
    return ConnectorError("INVALID_INPUT", message, retryable=False)


def _addresses(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else re.split(r"[,;]", str(value))
    found = [str(item).strip() for item in items if item is not None and str(item).strip()]
    for address in found:
        _check(address, "to")
    return found


def _check(address: str, name: str) -> None:
    try:
        validate_email(parseaddr(address)[1] or address)
    except ValidationError:
        raise _invalid(f"`{name}` has an invalid email address: {address!r}") from None


def run(inv: Invocation) -> Result:
    v = inv.variables
    recipients = _addresses(v.get("to"))
    if not recipients:
        raise _invalid("the email connector needs `to`")
    sender = str(v.get("from") or settings.DEFAULT_FROM_EMAIL)
    _check(sender, "from")
    subject = "" if v.get("subject") is None else str(v["subject"])
    body = "" if v.get("body") is None else str(v["body"])
    html = v.get("html")
    # The step's log: who and what (subject and body clipped), then what the mail server said.
    sent_lines = (f"-> mail from {sender} to {', '.join(recipients)}", f"-> subject {policy.clip(subject)}",
                  f"-> body {policy.clip(body)}")
    try:
        connection = get_connection(fail_silently=False, timeout=max(1.0, inv.budget_seconds))
        sent = send_mail(subject, body, sender, recipients, connection=connection,
                         html_message=str(html) if html else None)
    except BadHeaderError as exc:
        raise _invalid(f"invalid email header: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ConnectorError("MAIL_ERROR", f"could not send the email: {exc}",
                             log=(*sent_lines, f"<- MAIL_ERROR: {policy.clip(str(exc))}")) from None
    return Result({"sent": sent, "to": recipients}, log=(*sent_lines, f"<- sent ({sent})"))
