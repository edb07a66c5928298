"""One HTTP exchange as a capture keeps it: nothing secret, names pseudonymised.

What is removed, always: the Authorization, Cookie and Set-Cookie headers (a request keeps only
the headers a server's answer may depend on: Accept and Content-Type); the token request's form
(it carries the client secret); the token answer's access token (a placeholder instead) and any
refresh or ID token; every value opskit._redact knows (the secrets opskit has resolved, the
tokens it received, the pseudonym key), wherever it stands.

What is pseudonymised, unless names are kept: in JSON bodies (answers and requests), the values
of the attributes that hold names (userName, displayName, display, name, externalId, the parts
of a user's name, e-mail addresses), the values a ``filter`` or a PATCH operation compares
to them (an id stays an id); in free text (an error's detail), each name seen elsewhere in the
capture; and the server's origin
(``https://acme.delinea.app``), which names the tenant. Discovery answers
(ServiceProviderConfig, ResourceTypes, Schemas) describe the server, not the tenant: kept.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any

import httpx
import orjson

from .. import _redact, http
from .._pseudonyms import Pseudonyms

PLACEHOLDER_TOKEN = "opskit-capture-placeholder-token"
REMOVED_ORIGIN = "https://tenant.invalid"
# What a request keeps of its headers: what a server's answer may depend on, nothing else.
REQUEST_HEADERS = ("accept", "content-type")
# Never kept from an answer: cookies, and what describes the bytes on the wire (a body is kept
# decoded, and the replay sends it whole).
DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2", "content-length",
                                      "content-encoding", "transfer-encoding", "connection",
                                      "keep-alive"})
NAME_ATTRIBUTES = frozenset({"userName", "displayName", "display", "name", "externalId",
                             "givenName", "familyName", "middleName", "formatted", "nickName",
                             "honorificPrefix", "honorificSuffix"})
_NAMES_FOLDED = frozenset(a.lower() for a in NAME_ATTRIBUTES)  # SCIM names ignore case
FREE_TEXT = frozenset({"detail", "description", "error_description", "message"})
TOKEN_FIELDS_DROPPED = ("refresh_token", "id_token")
_DISCOVERY = frozenset({"serviceproviderconfig", "resourcetypes", "schemas"})
# A comparison in a filter (or a PATCH path's): the attribute, and the quoted value it names.
_COMPARED = re.compile(r'([\w.$:-]+)(\s+(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)("(?:[^"\\]|\\.)*")',
                       re.IGNORECASE)
_WORD = re.compile(r"\w+")
_OPEN_BRACKET = re.compile(r"([\w.$:-]+)\[[^\[\]]*$")  # the attribute whose [ is still open
_FILTER_IN_PATH = re.compile(r"\[[^\]]*\]")  # members[value eq "5"].display: members.display


class Recorder:
    """Hears every exchange (opskit.http.recording) and keeps it cleaned, in the order the
    answers came."""

    def __init__(self, pseudonyms: Pseudonyms | None, origins: list[str]) -> None:
        self.pseudonyms = pseudonyms
        self.origins = sorted({o for o in origins if o}, key=len, reverse=True)
        self.exchanges: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def hear(self, request: httpx.Request, response: httpx.Response) -> None:
        secrets = _redact.known_values()
        token_request = bool(request.extensions.get(http.IDEMPOTENT_EXTENSION)) or \
            b"grant_type=" in _content(request)
        discovery = any(seg.lower() in _DISCOVERY for seg in request.url.path.split("/"))
        origins = self.origins if self.pseudonyms is not None else []
        clean = _Cleaner(None if discovery else self.pseudonyms, origins, secrets)
        exchange = {
            "request": {
                "method": request.method,
                "path": request.url.path,
                "query": [[k, clean.query(k, v)] for k, v in request.url.params.multi_items()],
                "headers": {k: clean.text(v) for k, v in request.headers.items()
                            if k.lower() in REQUEST_HEADERS},
                "body": ({"removed": "the token request's form: it carries the client secret"}
                         if token_request and _content(request) else clean.body(_content(request))),
            },
            "response": {
                "status": response.status_code,
                "headers": [[k, clean.text(v)] for k, v in response.headers.multi_items()
                            if k.lower() not in DROPPED_RESPONSE_HEADERS],
                "body": clean.body(response.content, token_answer=token_request),
            },
        }
        with self._lock:
            self.exchanges.append({"seq": len(self.exchanges) + 1, **exchange})

    def finish(self) -> list[dict[str, Any]]:
        """The exchanges, with every name seen anywhere in them also replaced in free text (an
        error's detail may name a user read only later)."""
        if self.pseudonyms is not None:
            known = _KnownNames(self.pseudonyms)
            for exchange in self.exchanges:
                for side in ("request", "response"):
                    body = exchange[side]["body"]
                    if body and "json" in body:
                        body["json"] = known.in_free_text(body["json"])
                    elif body and "text" in body:
                        body["text"] = known.replace(body["text"])
        return self.exchanges

    def scrub(self, text: str) -> str:
        """Text for the manifest (an error message): secrets, the origin and names removed."""
        origins = self.origins if self.pseudonyms is not None else []
        clean = _Cleaner(self.pseudonyms, origins, _redact.known_values())
        text = _redact.redact(clean.text(text))
        if self.pseudonyms is not None:
            text = _KnownNames(self.pseudonyms).replace(text)
        return text


def _content(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed body: opskit sends none, and keeps none
        return b""


class _Cleaner:
    """One exchange's strings made safe: secrets masked, the origins replaced, names
    pseudonymised (``names`` None: kept)."""

    def __init__(self, names: Pseudonyms | None, origins: list[str], secrets: list[str]):
        self.names = names
        self.origins = origins
        self.secrets = sorted(secrets, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, _redact.MASK)
        if "://" in value:
            for origin in self.origins:
                value = value.replace(origin, REMOVED_ORIGIN)
        return value

    def query(self, key: str, value: str) -> str:
        value = self.text(value)
        return self.compared(value) if key == "filter" else value

    def compared(self, text: str) -> str:
        """A filter with the values compared to name attributes pseudonymised (an id stays)."""
        names = self.names
        if names is None:
            return text

        def one(match: re.Match[str]) -> str:
            attribute, operator, quoted = match.groups()
            # Inside emails[value eq "…"] the attribute is the bracket's: emails.value.
            parent = _OPEN_BRACKET.search(text, 0, match.start())
            if not _is_name(attribute if parent is None else f"{parent.group(1)}.{attribute}"):
                return match.group(0)
            return attribute + operator + orjson.dumps(names.name(orjson.loads(quoted))).decode()

        return _COMPARED.sub(one, text)

    def body(self, content: bytes, token_answer: bool = False) -> dict[str, Any] | None:
        if not content:
            return None
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:  # not JSON, bad UTF-8, nested past 1,024 levels
            try:
                return {"text": self.text(content.decode("utf-8"))}
            except UnicodeDecodeError:
                return {"base64": base64.b64encode(content).decode("ascii")}
        if token_answer and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in TOKEN_FIELDS_DROPPED}
            if "access_token" in value:
                value["access_token"] = PLACEHOLDER_TOKEN
        return {"json": self.json(value)}

    def json(self, value: Any, key: str = "", in_emails: bool = False) -> Any:
        if isinstance(value, str):
            if self.names is not None and (key.lower() in _NAMES_FOLDED or
                                           (in_emails and key == "value")):
                return self.names.name(self.text(value))
            return self.text(value)
        if isinstance(value, dict):
            out = {k: self.json(v, k, in_emails) for k, v in value.items()}
            path = value.get("path")
            if "op" in value and isinstance(path, str) and self.names is not None:
                # A PATCH operation: its path may compare a name, and name what its value is.
                out["path"] = self.compared(self.text(path))
                if _is_name(_FILTER_IN_PATH.sub("", path)) and isinstance(value.get("value"), str):
                    out["value"] = self.names.name(self.text(value["value"]))
            return out
        if isinstance(value, list):
            emails = key.lower() == "emails"
            return [self.json(v, key, emails) for v in value]
        return value


def _is_name(attribute: str) -> bool:
    """Whether an attribute path (``userName``, ``members.display``, ``emails.value``, with or
    without its schema URN) holds a name."""
    parts = attribute.rsplit(":", 1)[-1].lower().split(".")
    return parts[-1] in _NAMES_FOLDED or parts[0] == "emails"


class _KnownNames:
    """Every name seen, found again in free text: by its first word, so a text is compared only
    with the names that could stand in it (a tenant has ~10^5 names, an error's detail a few
    words)."""

    def __init__(self, names: Pseudonyms) -> None:
        self.names = names
        self.by_first: dict[str, list[str]] = {}
        for name in sorted(names.mapping, key=len, reverse=True):  # the longest first
            first = _WORD.search(name)
            if first is not None and len(name) >= 3:
                self.by_first.setdefault(first.group(0), []).append(name)

    def replace(self, text: str) -> str:
        for word in set(_WORD.findall(text)):
            for name in self.by_first.get(word, ()):
                if name in text:
                    text = text.replace(name, self.names.name(name))
        return text

    def in_free_text(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            return self.replace(value) if key in FREE_TEXT else value
        if isinstance(value, dict):
            return {k: self.in_free_text(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.in_free_text(v, key) for v in value]
        return value
