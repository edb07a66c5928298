"""``[alerts]`` in opskit.toml: when to alert, and where to (a webhook, e-mail through SMTP).

Every secret (the webhook's URL, a header value, the SMTP password) may be given by reference
(``env:``, ``file:``, ``keyring:``), as profiles take them; it is resolved only when sending.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._redact import remember
from ..config import SECRET_SCHEMES, SecretRef, alerts_table, is_loopback
from ..errors import ConfigError, OpskitError
from ..findings import SEVERITIES

DEFAULT_MIN_SEVERITY = "high"
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True)
class Value:
    """A setting given as it is, or by a secret reference resolved when sending."""

    text: str = field(repr=False)  # a literal header value may be a token all the same
    secret: SecretRef | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> Value:
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{where} must be text",
                              "write it in quotes, or as a reference: env:NAME, "
                              "keyring:SERVICE/NAME or file:PATH")
        if raw.startswith(SECRET_SCHEMES):
            return cls(raw, SecretRef(raw))
        return cls(raw)

    def resolve(self) -> str:
        """The value, registered with the redactor (a header or URL given as it is may still
        carry a token: a chat tool's webhook URL is itself the credential)."""
        value = self.secret.resolve() if self.secret else self.text
        remember(value)
        remember(value.partition(" ")[2])  # an Authorization value's token alone
        return value


def remember_url(url: str) -> None:
    """Register a webhook URL's path and query values too: a message quoting only a part of
    it must not show that part either."""
    parts = urlsplit(url)
    for piece in (parts.path, parts.query, *(v for _, v in parse_qsl(parts.query))):
        remember(piece)


@dataclass(frozen=True)
class Webhook:
    url: Value
    headers: dict[str, Value] = field(default_factory=dict)
    verify: bool | str = True

    def destination(self) -> str:
        """Where it goes, for a person: the host only (a URL's path or query may be a secret)."""
        if self.url.secret:
            return f"webhook (URL from {self.url.secret.ref.split(':', 1)[0]}:…)"
        return f"webhook at {urlsplit(self.url.text).hostname or '?'}"


@dataclass(frozen=True)
class Email:
    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password: SecretRef | None = None
    verify: bool | str = True
    html: bool = True

    def destination(self) -> str:
        return f"e-mail to {', '.join(self.to)} via {self.host}:{self.port}"


@dataclass(frozen=True)
class AlertSettings:
    min_severity: str = DEFAULT_MIN_SEVERITY
    on_failure: bool = True
    webhook: Webhook | None = None
    email: Email | None = None

    @property
    def targets(self) -> list[Webhook | Email]:
        return [t for t in (self.webhook, self.email) if t is not None]

    def learn_secrets(self) -> None:
        """Register every secret value of the settings that resolves here with the redactor."""
        if self.webhook:
            for value in [self.webhook.url, *self.webhook.headers.values()]:
                with suppress(OpskitError):
                    value.resolve()
            with suppress(OpskitError):
                remember_url(self.webhook.url.resolve())
        if self.email and self.email.password:
            with suppress(OpskitError):
                self.email.password.resolve()


def load_settings(path: Path | None = None) -> AlertSettings | None:
    """The ``[alerts]`` table of the profile file, checked; None when there is none."""
    raw = alerts_table(path)
    return None if raw is None else parse_settings(raw)


def _keys(raw: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table", f"write it as [{where}]")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          f"keys: {', '.join(allowed)} (docs/alerts.md)")
    return raw


def _verify(raw: Any, where: str) -> bool | str:
    if isinstance(raw, bool) or (isinstance(raw, str) and raw):
        return raw
    raise ConfigError(f"{where}.verify must be true, false or a CA bundle's path",
                      "leave it out (true) unless the server's certificate needs its own CA")


def parse_settings(raw: Any, where: str = "alerts") -> AlertSettings:
    table = _keys(raw, where, ("min_severity", "on_failure", "webhook", "email"))
    severity = table.get("min_severity", DEFAULT_MIN_SEVERITY)
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.min_severity is {severity!r}",
                          f"use one of {', '.join(SEVERITIES)}")
    on_failure = table.get("on_failure", True)
    if not isinstance(on_failure, bool):
        raise ConfigError(f"{where}.on_failure must be true or false",
                          "true (the default) alerts when a run could not run")
    webhook = _webhook(table["webhook"], f"{where}.webhook") if "webhook" in table else None
    email = _email(table["email"], f"{where}.email") if "email" in table else None
    if webhook is None and email is None:
        raise ConfigError(f"{where} names nowhere to send alerts",
                          f"add [{where}.webhook] with a url, or [{where}.email] (docs/alerts.md)")
    return AlertSettings(severity, on_failure, webhook, email)


def _webhook(raw: Any, where: str) -> Webhook:
    table = _keys(raw, where, ("url", "headers", "verify"))
    url = Value.parse(table.get("url"), f"{where}.url")
    if not url.secret and urlsplit(url.text).scheme not in ("http", "https"):
        raise ConfigError(f"{where}.url is not an http(s) URL",
                          "give the webhook's full URL, e.g. https://hooks.example.com/…, "
                          "or a reference to it (env:NAME)")
    headers = table.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(f"{where}.headers is not a table",
                          f'write [{where}.headers] with Authorization = "env:HOOK_TOKEN"')
    return Webhook(url, {str(k): Value.parse(v, f"{where}.headers.{k}")
                         for k, v in headers.items()},
                   _verify(table.get("verify", True), where))


def _email(raw: Any, where: str) -> Email:
    table = _keys(raw, where, ("host", "port", "security", "username", "password", "from",
                               "to", "verify", "html"))
    host = table.get("host")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{where}.host is missing", "name the SMTP server, e.g. "
                          'host = "smtp.example.com"')
    security = table.get("security", "starttls")
    if security not in SMTP_PORTS:
        raise ConfigError(f"{where}.security is {security!r}",
                          'use "starttls" (port 587), "ssl" (465) or "none" (25, '
                          "no encryption: a local relay only)")
    port = table.get("port", SMTP_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port must be a port number", "e.g. 587")
    sender = table.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{where}.from must be an e-mail address",
                          'e.g. from = "opskit@example.com"')
    to = table.get("to")
    to = [to] if isinstance(to, str) else to
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a
                                                     for a in to):
        raise ConfigError(f"{where}.to must be one or more e-mail addresses",
                          'e.g. to = ["ops@example.com"]')
    username = table.get("username")
    if username is not None and not isinstance(username, str):
        raise ConfigError(f"{where}.username must be text")
    password = table.get("password")
    if password is not None and (not isinstance(password, str)
                                 or not password.startswith(SECRET_SCHEMES)):
        # Never echo the value: it may be the password itself.
        raise ConfigError(f"{where}.password must be a secret reference",
                          "give it as env:NAME, keyring:SERVICE/NAME or file:PATH, and change "
                          "the password if the file was shared")
    if (username is None) != (password is None):
        raise ConfigError(f"{where}: username and password go together",
                          "give both to log in, or neither for a relay that needs no login")
    if password is not None and security == "none" and not is_loopback(host):
        raise ConfigError(f"{where}: security = \"none\" would send the password unencrypted "
                          f"to {host}", 'use security = "starttls" or "ssl" (or a relay on '
                          "this machine)")
    html = table.get("html", True)
    if not isinstance(html, bool):
        raise ConfigError(f"{where}.html must be true or false")
    return Email(host, port, security, sender, tuple(to), username,
                 SecretRef(password) if password else None,
                 _verify(table.get("verify", True), where), html)
