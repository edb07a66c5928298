"""The redaction registry: every secret value opskit has held, scrubbed from any text shown.

Secret references register their value when resolved and auth flows register the tokens they
receive, so a log line or error message that somehow quotes one still shows only ``***``.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_lock = threading.Lock()
_values: set[str] = set()
# Shapes worth masking even when opskit never saw the value (a header or a form echoed back).
_PATTERNS = [
    (re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer|basic)\s+[^\s,;'\"]+"), r"\1\2 " + MASK),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (re.compile(r"(?i)((?:client_secret|access_token|refresh_token|password)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s&,;'\"]+"), r"\1" + MASK),
    # A bare "token:" is also a word in prose ("no token: the endpoint …"): mask only what
    # looks like one.
    (re.compile(r"(?i)(\btoken[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{12,}"), r"\1" + MASK),
    # A URL's user part, and the query parameters that carry a signature or a key (an export
    # shared by link): https://user:pw@host/…, …?sig=…, …&X-Amz-Signature=…
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + MASK + "@"),
    (re.compile(r"(?i)([?&](?:sig|signature|x-amz-signature|x-amz-credential|key|api_?key|code|"
                r"secret|token|auth)=)[^&\s#'\"]+"), r"\1" + MASK),
]


def remember(value: str | None) -> None:
    """Register a secret value (short values are skipped: masking them would garble text)."""
    if value and len(value) >= 6:
        with _lock:
            _values.add(value)


def redact(text: str) -> str:
    """Text with every registered secret and every credential-shaped fragment masked."""
    text = redact_known(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text) if text else text
    return text


def redact_known(text: str) -> str:
    """Text with only the registered secret values masked: safe on code and markup (a plotly.js
    bundle, HTML), where the credential-shaped patterns of `redact` could match program text."""
    if not text:
        return text
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def known_values() -> list[str]:
    """Every registered secret value (for a scan of files a run wrote)."""
    with _lock:
        return list(_values)


def is_known_secret(text: str) -> bool:
    """Whether the text contains a registered secret value."""
    with _lock:
        return any(value in text for value in _values)


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug, not a leak
            return True
        record.msg, record.args = redact(message), None
        return True


def logger(name: str) -> logging.Logger:
    """A logger whose records are redacted (filters on a logger do not reach its children)."""
    lg = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in lg.filters):
        lg.addFilter(RedactingFilter())
    return lg


# The package's own logger: records logged on it directly are masked too.
logger("opskit")
