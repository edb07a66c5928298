"""One HTTP exchange as a capture keeps it: nothing secret, names pseudonymised.

What is removed, always: the Authorization, Cookie and Set-Cookie headers (a request keeps only
the headers a server's answer may depend on: Accept and Content-Type); the token request's form
(it carries the client secret); the token answer's access token (a placeholder instead) and any
refresh or ID token; every value opskit._redact knows (the secrets opskit has resolved, the
tokens it received, the pseudonym key), wherever it stands.

What is pseudonymised, unless names are kept: in JSON bodies (answers and requests), every
string but a short list of structural ones (ids and references, ``schemas``, ``meta``, rights,
``type``, paging, statuses: see `_structural`), whatever the attribute (a server may send
attributes opskit never asked for); the values a ``filter`` or a PATCH operation compares to
such attributes (an id stays an id). Free text (an error answer's strings, whatever their
keys, and a body that is not JSON) stays readable: every name seen anywhere in the capture and
every e-mail address in it are replaced, whatever their case. The server's host (with or
without scheme and port, in any case) is replaced everywhere, headers included, and the cloud
tenant's name wherever the protocol's own words are not (`_structural`). Discovery answers
(ServiceProviderConfig, ResourceTypes, Schemas) describe the server, not the tenant: kept, the
host replaced.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import httpx
import orjson

from .. import _redact
from .._json import map_strings
from .._pseudonyms import Pseudonyms, longest_first
from ..auth import TOKEN_REQUEST_EXTENSION

PLACEHOLDER_TOKEN = "opskit-capture-placeholder-token"
REMOVED_ORIGIN = "https://tenant.invalid"
REMOVED_HOST = "tenant.invalid"
REMOVED_TENANT = "tenant"
# What a request keeps of its headers: what a server's answer may depend on, nothing else.
REQUEST_HEADERS = ("accept", "content-type")
# Never kept from an answer: cookies, and what describes the bytes on the wire (a body is kept
# decoded, and the replay sends it whole).
DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2", "content-length",
                                      "content-encoding", "transfer-encoding", "connection",
                                      "keep-alive"})
# Strings kept as they are (keys compared case-folded, a schema URN prefix ignored): what the
# protocol says rather than what the tenant holds. Everything else is a name or may hold one.
KEPT_KEYS = frozenset({"id", "$ref", "schemas", "rights", "right", "type", "active", "primary",
                       "totalresults", "startindex", "itemsperpage", "status", "scimtype",
                       "op", "token_type", "scope", "expires_in"})
# A ``value`` under these is a reference (an id), or a right's name: kept.
REFERENCES = frozenset({"members", "groups", "container", "privilegeddata", "user", "group",
                        "parent", "manager", "rights"})
TOKEN_FIELDS_DROPPED = ("refresh_token", "id_token")
_DISCOVERY = frozenset({"serviceproviderconfig", "resourcetypes", "schemas"})
# A comparison in a filter (or a PATCH path's): the attribute, and the quoted value it names.
_COMPARED = re.compile(r'([\w.$:-]+)(\s+(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)("(?:[^"\\]|\\.)*")',
                       re.IGNORECASE)
_WORD = re.compile(r"\w+")
_OPEN_BRACKET = re.compile(r"([\w.$:-]+)\[[^\[\]]*$")  # the attribute whose [ is still open
_FILTER_IN_PATH = re.compile(r"\[[^\]]*\]")  # members[value eq "5"].display: members.display
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A Delinea cloud tenant's host names the tenant in its first label.
_CLOUD_HOST = re.compile(r"([a-z0-9-]+)\.(?:delinea\.app|secretservercloud\.[a-z.]+)$")
# Characters no text body holds: such a body is binary, and not kept.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f]")
_NOT_TEXT = "a body that is not text: it could not be cleaned of names and secrets"


class _Text(str):
    """Free text, cleaned of names once every name of the capture is known (`Recorder.finish`)."""

    __slots__ = ()


class Recorder:
    """Hears every exchange (opskit.http.recording) and keeps it cleaned, in the order the
    answers came. ``urls``: the profile's URLs, whose hosts are replaced (unless names are
    kept); ``tenant``: the cloud tenant's name, replaced as a word likewise."""

    def __init__(self, pseudonyms: Pseudonyms | None, urls: list[str],
                 tenant: str | None = None) -> None:
        self.pseudonyms = pseudonyms
        hosts = {httpx.URL(u).host.lower() for u in urls if u} - {""}
        in_host = (_CLOUD_HOST.search(h) for h in hosts)
        tenants = {t.lower() for t in [tenant, *(m.group(1) for m in in_host if m)] if t}
        self.tenant: re.Pattern[str] | None = None
        self.hosts: re.Pattern[str] | None = None
        if pseudonyms is not None and hosts:
            # Any case, with or without scheme and port: the origin, or the bare host.
            self.hosts = re.compile(rf"(?:(?P<scheme>\b[a-z][a-z0-9+.-]*://)|(?<![\w.-]))"
                                    rf"(?:{longest_first(hosts)})(?::\d+)?(?![\w-])",
                                    re.IGNORECASE)
        if pseudonyms is not None and tenants:
            self.tenant = re.compile(rf"(?<![^\W_])(?:{longest_first(tenants)})(?![^\W_])",
                                     re.IGNORECASE)
        self.exchanges: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def hear(self, request: httpx.Request, response: httpx.Response) -> None:
        clean = _Cleaner(self, _redact.known_values())
        token_request = bool(request.extensions.get(TOKEN_REQUEST_EXTENSION)) or \
            b"grant_type=" in _content(request)
        discovery = any(seg.lower() in _DISCOVERY for seg in request.url.path.split("/"))
        if discovery:
            clean.names = None
        headers = [[k, clean.text(v)] for k, v in response.headers.multi_items()
                   if k.lower() not in DROPPED_RESPONSE_HEADERS]
        exchange: dict[str, dict[str, Any]] = {
            "request": {
                "method": request.method,
                "path": request.url.path,
                "query": [[k, clean.query(k, v)] for k, v in request.url.params.multi_items()],
                "headers": {k: clean.text(v) for k, v in request.headers.items()
                            if k.lower() in REQUEST_HEADERS},
                "body": ({"removed": "the token request's form: it carries the client secret"}
                         if token_request and _content(request) else
                         clean.body(_content(request), None)),
            },
            "response": {
                "status": response.status_code,
                "headers": headers,
                "body": clean.body(response.content, response, token_answer=token_request,
                                   error=response.status_code >= 400),
            },
        }
        if clean.recoded:  # the body is kept as UTF-8 text now: its header says so
            exchange["response"]["headers"] = [
                [k, _utf8(v) if k.lower() == "content-type" else v] for k, v in headers]
        with self._lock:
            self.exchanges.append({"seq": len(self.exchanges) + 1, **exchange})

    def finish(self) -> list[dict[str, Any]]:
        """The exchanges, with every name seen anywhere in them also replaced in free text (an
        error's detail may name a user read only later)."""
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
        """Text for the manifest (an error message): secrets, the host and names removed."""
        return _KnownNames(self.pseudonyms).replace(
            _Cleaner(self, _redact.known_values()).free(text))

    def text(self, value: str, secrets: list[str], tenant: bool = True) -> str:
        """``value`` with the secrets masked and the host and tenant name replaced."""
        return self.placeless(_masked(value, secrets), tenant)

    def placeless(self, value: str, tenant: bool = True) -> str:
        """``value`` with the host and (where ``tenant``) the tenant's name replaced."""
        if self.hosts is not None:
            value = self.hosts.sub(lambda m: REMOVED_ORIGIN if m.group("scheme")
                                   else REMOVED_HOST, value)
        if self.tenant is not None and tenant:
            value = self.tenant.sub(REMOVED_TENANT, value)
        return value


def _content(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed body: opskit sends none, and keeps none
        return b""


def _masked(value: str, secrets: list[str]) -> str:
    for secret in secrets:  # the longest first
        if secret in value:
            value = value.replace(secret, _redact.MASK)
    return value


def _utf8(content_type: str) -> str:
    kept = [p for p in content_type.split(";") if not p.strip().lower().startswith("charset=")]
    return "; ".join([p.strip() for p in kept] + ["charset=utf-8"])


def _folded(key: str) -> str:
    """An attribute's name as compared: case-folded, without its schema URN."""
    return key.rsplit(":", 1)[-1].lower()


def _structural(key: str, parent: str) -> bool:
    """Whether the string under ``key`` (inside ``parent``; both folded) is kept as it is."""
    return key in KEPT_KEYS or parent == "meta" or (key == "value" and parent in REFERENCES)


def _is_structural_path(attribute: str) -> bool:
    """Whether an attribute path (``id``, ``members.value``, ``meta.created``, with or without
    its schema URN) holds a kept string; anything else may hold a name."""
    parts = [_folded(p) for p in attribute.split(".")]
    return _structural(parts[-1], parts[-2] if len(parts) > 1 else "")


class _Cleaner:
    """One exchange's strings made safe: secrets masked, the host replaced, names
    pseudonymised (``names`` None: kept)."""

    def __init__(self, recorder: Recorder, secrets: list[str]) -> None:
        self.recorder = recorder
        self.names = recorder.pseudonyms
        self.secrets = sorted(secrets, key=len, reverse=True)
        self.recoded = False

    def text(self, value: str, tenant: bool = True) -> str:
        return self.recorder.text(value, self.secrets, tenant)

    def free(self, value: str) -> _Text:
        """Free text: secrets (and what looks like one) masked, the host replaced, e-mail
        addresses pseudonymised now and the other names at the end (`Recorder.finish`)."""
        value = _masked(value, self.secrets)
        if self.names is not None:  # before the host goes: as the same address elsewhere
            value = _EMAIL.sub(lambda m: self.pseudonym(m.group(0)), value)
        return _Text(_redact.redact(self.recorder.placeless(value)))

    def pseudonym(self, value: str) -> str:
        if self.names is None:
            return self.text(value)
        # The host is no concern here: every word of a pseudonymised string is replaced.
        return self.names.name(_masked(value, self.secrets))

    def query(self, key: str, value: str) -> str:
        return self.filter(value) if key == "filter" else self.text(value)

    def filter(self, text: str) -> str:
        """A filter (or a PATCH path) cleaned: its compared values pseudonymised as the same
        values are in bodies (before the host or tenant name is replaced in them), the rest
        cleaned as text."""
        return self.recorder.placeless(self.compared(_masked(text, self.secrets)))

    def compared(self, text: str) -> str:
        """A filter with the values it compares pseudonymised (an id stays)."""
        if self.names is None:
            return text

        def one(match: re.Match[str]) -> str:
            attribute, operator, quoted = match.groups()
            # Inside emails[value eq "…"] the attribute is the bracket's: emails.value.
            parent = _OPEN_BRACKET.search(text, 0, match.start())
            if _is_structural_path(attribute if parent is None
                                   else f"{parent.group(1)}.{attribute}"):
                return match.group(0)
            value = orjson.loads(quoted)
            if not isinstance(value, str):
                return match.group(0)
            return attribute + operator + orjson.dumps(self.pseudonym(value)).decode()

        return _COMPARED.sub(one, text)

    def body(self, content: bytes, response: httpx.Response | None, token_answer: bool = False,
             error: bool = False) -> dict[str, Any] | None:
        if not content:
            return None
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:  # not JSON, not UTF-8, nested past 1,024 levels
            return self.text_body(content, response)
        cleaned = self.json(value, error=error)
        if token_answer and isinstance(cleaned, dict):
            cleaned = {k: v for k, v in cleaned.items() if k not in TOKEN_FIELDS_DROPPED}
            if "access_token" in cleaned:
                cleaned["access_token"] = self.text(PLACEHOLDER_TOKEN)  # a replay issued it
        return {"json": cleaned}

    def text_body(self, content: bytes, response: httpx.Response | None) -> dict[str, Any]:
        """A body that is not JSON, decoded with its charset (else UTF-8, else latin-1) and
        cleaned as free text; one that is not text is removed."""
        charset = response.charset_encoding if response is not None else None
        encoding = charset or "utf-8"
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            if charset:
                return {"removed": _NOT_TEXT}
            text, encoding = content.decode("latin-1"), "latin-1"
        except LookupError:  # a charset Python does not know
            return {"removed": _NOT_TEXT}
        if _BINARY.search(text):
            return {"removed": _NOT_TEXT}
        if response is not None and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            self.recoded = True
        return {"text": self.free(text)}

    def json(self, value: Any, key: str = "", parent: str = "", error: bool = False) -> Any:
        if isinstance(value, str):
            if _structural(key, parent):  # the protocol's words: no tenant name among them
                return self.text(value, tenant=False)
            if error:
                return self.free(value)
            return self.pseudonym(value)
        if isinstance(value, dict):
            path = value.get("path")
            if "op" in value and isinstance(path, str):
                # A PATCH operation: its path may compare a name, and says what its value is.
                attribute = [_folded(p) for p in _FILTER_IN_PATH.sub("", path).split(".")]
                inner = attribute[-1], attribute[-2] if len(attribute) > 1 else ""
                return {k: (self.filter(v) if k == "path" else
                            self.json(v, *inner, error) if k == "value" else
                            self.json(v, _folded(k), key, error)) for k, v in value.items()}
            return {k: self.json(v, _folded(k), key, error) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key, parent, error) for v in value]
        return value


class _KnownNames:
    """Every name seen of three letters or more (shorter ones, "IT", are words of prose too),
    found again in free text whatever its case: candidates picked by their words (a tenant has
    ~10^5 names, an error's detail a few words), then replaced in one pass, the longest first
    (a team's name before the department inside it). Each is matched as spelled and as
    case-folded: a regex's IGNORECASE does not fold ß to ss, nor İ to i̇."""

    def __init__(self, names: Pseudonyms | None) -> None:
        self.names = names
        self.by_word: dict[str, list[str]] = {}
        self.pseudonym: dict[str, str] = {}  # a name case-folded → its pseudonym
        self.spellings: dict[str, set[str]] = {}  # a name case-folded → as seen, and folded
        if names is None:
            return
        for name, pseudonym in names.mapping.items():
            folded = name.casefold()
            if len(folded) < 3:
                continue
            self.spellings.setdefault(folded, {folded}).add(name)
            if folded in self.pseudonym:
                continue
            self.pseudonym[folded] = pseudonym
            for word in set(_WORD.findall(folded)):
                self.by_word.setdefault(word, []).append(folded)

    def replace(self, text: str) -> str:
        if not self.pseudonym or not text:
            return str(text)
        candidates = {spelled for w in set(_WORD.findall(text.casefold()))
                      for n in self.by_word.get(w, ()) for spelled in self.spellings[n]}
        if not candidates:
            return str(text)
        pattern = re.compile(rf"(?<!\w)(?:{longest_first(candidates)})(?!\w)", re.IGNORECASE)
        return pattern.sub(lambda m: self.pseudonym.get(m.group(0).casefold(), m.group(0)),
                           str(text))

    def in_free_text(self, value: Any) -> Any:
        return map_strings(value, self.replace, _Text)
