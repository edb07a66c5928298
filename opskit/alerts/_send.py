"""Sending an alert: a JSON POST to the webhook, an e-mail through SMTP; or, for a dry run, what
would be sent and where. A failed delivery is one line (no secret, no URL path or query), never
an exception: an alert must not change what the runs themselves report."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from .._redact import redact
from ..errors import OpskitError
from ..http import RetryPolicy, client, tls_context
from ..limits import DEFAULT as DEFAULT_LIMITS
from ._message import Alert
from ._settings import AlertSettings, Email, Webhook, remember_url

SMTP_TIMEOUT = 30.0


def preview(alert: Alert, settings: AlertSettings) -> str:
    """What a dry run prints: each destination (the webhook's host only) and its message."""
    blocks = []
    for target in settings.targets:
        if isinstance(target, Webhook):
            body = json.dumps(alert.payload, indent=2, ensure_ascii=False)
            blocks.append(f"→ {target.destination()}: POST application/json\n{body}")
        else:
            blocks.append(f"→ {target.destination()}\nSubject: {alert.subject}\n\n{alert.text}")
    return redact("\n\n".join(blocks))


def deliver(alert: Alert, settings: AlertSettings) -> tuple[list[str], list[str]]:
    """Send to every destination: (those reached, one line per one that was not)."""
    sent: list[str] = []
    problems: list[str] = []
    for target in settings.targets:
        try:
            if isinstance(target, Webhook):
                _post(alert, target)
            else:
                _mail(alert, target)
        except _NotSent as exc:
            problems.append(redact(f"alert not sent to {target.destination()}: {exc}"))
        except OpskitError as exc:  # a secret reference that does not resolve, a bad CA path
            reason = str(exc).replace("\n  → ", " → ")
            problems.append(redact(f"alert not sent to {target.destination()}: {reason}"))
        else:
            sent.append(target.destination())
    return sent, problems


class _NotSent(Exception):
    """Why a destination was not reached, in words safe to show."""


def _post(alert: Alert, hook: Webhook) -> None:
    headers = {name: value.resolve() for name, value in hook.headers.items()}
    url = hook.url.resolve()
    remember_url(url)
    try:
        # A few quick tries where the request was never sent (a receiver restarting); a POST
        # that may have arrived is not sent twice.
        with client(verify=hook.verify, headers=headers,
                    policy=RetryPolicy.first_contact(DEFAULT_LIMITS)) as http:
            response = http.post(url, json=alert.payload)
    except httpx.HTTPError as exc:  # its text may quote the URL: name the kind only
        raise _NotSent(f"{type(exc).__name__} → check the URL and that the receiver is "
                       "up") from None
    if not response.is_success:
        raise _NotSent(f"the receiver answered HTTP {response.status_code} → check the URL "
                       "and its token")


def _mail(alert: Alert, mail: Email) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2])
    message.set_content(alert.text)
    if mail.html:
        message.add_alternative(alert.html, subtype="html")
    password = mail.password.resolve() if mail.password else None
    context = tls_context(mail.verify) if mail.security != "none" else None
    try:
        server: smtplib.SMTP
        if mail.security == "ssl":
            server = smtplib.SMTP_SSL(mail.host, mail.port, timeout=SMTP_TIMEOUT,
                                      context=context)
        else:
            server = smtplib.SMTP(mail.host, mail.port, timeout=SMTP_TIMEOUT)
        with server:
            if mail.security == "starttls":
                server.starttls(context=context)
            if mail.username and password:
                server.login(mail.username, password)
            server.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise _NotSent(f"the server refused the login (SMTP {exc.smtp_code}) → check "
                       "username and password") from None
    except smtplib.SMTPResponseException as exc:
        raise _NotSent(f"the server answered SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        reason = type(exc).__name__ if not isinstance(exc, OSError) or not exc.strerror \
            else exc.strerror
        raise _NotSent(f"{reason} → check host, port and security") from None
