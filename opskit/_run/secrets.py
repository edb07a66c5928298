"""What a secret looks like: in a parameter's name, in its value, and in text a run wrote.

Two uses with different costs of a mistake. A parameter refused by mistake costs a rename, so
the parameter checks are eager (names, JWTs, long random-looking strings). Text written by a run
is only masked where a mask cannot corrupt it: credential patterns in prose (streams,
tracebacks, plain-text results); known secret values and JWTs everywhere (also in HTML and
scripts).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from .._redact import MASK, is_known_secret, redact, redact_known

# Whole words of a name (split at _ - . and camelCase) that mark it as a secret.
_SECRET_NAME_WORDS = frozenset({"key", "keys", "pwd", "pass", "jwt", "otp", "pat", "pin"})
# Fragments that mark it wherever they appear (api_key → "apikey", clientSecret → "clientsecret").
_SECRET_NAME_FRAGMENTS = ("secret", "passw", "passphrase", "passwd", "token", "apikey",
                          "credential", "bearer", "authoriz", "privatekey", "accesskey",
                          "cookie", "signature")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_AUTH_SCHEME = re.compile(r"(?i)^\s*(bearer|basic|digest|negotiate)\s+\S{6,}")
_PEM = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----")
_TOKENISH_WORD = re.compile(r"[A-Za-z0-9+/_\-.~=]{24,}")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_PATHISH = re.compile(r"^(/|~|\.{1,2}/|[A-Za-z]:\\)|\.[A-Za-z0-9]{1,5}$")
MIN_ENTROPY_BITS = 3.5  # per character; English words and paths score lower, random keys ~5-6


def secret_name_reason(name: str) -> str | None:
    """Why a parameter name looks like a secret's, or None."""
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", name).lower()) if w]
    joined = "".join(words)
    for fragment in _SECRET_NAME_FRAGMENTS:
        if fragment in joined:
            return f"its name contains {fragment!r}"
    for word in words:
        if word in _SECRET_NAME_WORDS:
            return f"its name contains the word {word!r}"
    return None


def _entropy_bits(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(word: str) -> bool:
    """A long word of token characters mixing cases and digits with high entropy: an API key, a
    client secret, an opaque token. Paths and file names are let through."""
    if _HEX.fullmatch(word):
        return True
    if not _TOKENISH_WORD.fullmatch(word) or _PATHISH.search(word):
        return False
    classes = (any(c.islower() for c in word), any(c.isupper() for c in word),
               any(c.isdigit() for c in word))
    return all(classes) and _entropy_bits(word) >= MIN_ENTROPY_BITS


def secret_value_reason(value: Any) -> str | None:
    """Why a parameter value looks like a secret, or None. Lists and dicts are searched."""
    if isinstance(value, dict):
        for key, item in value.items():
            reason = secret_value_reason(key) or secret_value_reason(item)
            if reason:
                return reason
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            reason = secret_value_reason(item)
            if reason:
                return reason
        return None
    if not isinstance(value, str) or not value:
        return None
    if is_known_secret(value):
        return "its value contains a secret opskit holds"
    if _JWT.search(value):
        return "its value is shaped like a JWT (a bearer token)"
    if _AUTH_SCHEME.match(value):
        return "its value is an Authorization header value"
    if _PEM.search(value):
        return "its value holds a PEM key or certificate"
    if redact(value) != value:
        return "its value holds a credential (e.g. password=…, token=…)"
    for word in value.split():
        if _looks_random(word):
            return "its value is a long random-looking string (an API key or secret?)"
    return None


def scrub_text(text: str) -> str:
    """Prose written by a run with every known secret, credential pattern and JWT masked."""
    if not text:
        return text
    return _JWT.sub(MASK, redact(text))


def scrub_markup(text: str) -> str:
    """HTML or script with known secret values and JWTs masked. The credential patterns are left
    out: ``token: …`` is valid program text (plotly.js has such code); a JWT's shape is not."""
    if not text:
        return text
    return _JWT.sub(MASK, redact_known(text))


def scrub_tree(value: Any) -> Any:
    """A JSON-like value with every string scrubbed as prose (keys kept: they are names)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_tree(v) for v in value]
    return value
