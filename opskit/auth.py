"""Authentication as httpx.Auth flows, and the token diagnosis the token check shows.

`ClientCredentialsAuth` fetches a token from the Platform's token endpoint, caches it, renews it
before it expires, fetches once more when a request is answered 401, and lets only one request
fetch at a time however many run concurrently. `StaticTokenAuth` sends the on-prem connector's
static bearer token. `diagnose_token` asks for a token once and explains the answer.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Generator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from . import http
from ._redact import logger, redact, remember
from .config import Endpoint, PracticeProfile, Profile, SecretRef
from .errors import AuthError, ConfigError, LimitExceeded, ProtocolError, TransportError
from .findings import declared

log = logger("opskit.auth")

# Causes, in the words the token check and the onboarding runbook use.
OK = "ok"
TENANT_UNREACHABLE = "tenant_unreachable"
TOKEN_ENDPOINT_NOT_FOUND = "token_endpoint_not_found"
INVALID_CLIENT = "invalid_client"
CLIENT_NOT_AUTHORIZED = "client_not_authorized"
INVALID_SCOPE = "invalid_scope"
UNSUPPORTED_GRANT = "unsupported_grant"
NOT_JSON = "not_json"
UNEXPECTED = "unexpected"

# Each cause is reported as this finding code; its remedy is declared with the code.
CAUSE_CODES = {
    TENANT_UNREACHABLE: "TENANT_UNREACHABLE",
    TOKEN_ENDPOINT_NOT_FOUND: "TOKEN_ENDPOINT_NOT_FOUND",
    INVALID_CLIENT: "TOKEN_INVALID_CLIENT",
    CLIENT_NOT_AUTHORIZED: "TOKEN_CLIENT_NOT_AUTHORIZED",
    INVALID_SCOPE: "TOKEN_INVALID_SCOPE",
    UNSUPPORTED_GRANT: "TOKEN_UNSUPPORTED_GRANT",
    NOT_JSON: "TOKEN_NOT_JSON",
    UNEXPECTED: "TOKEN_UNEXPECTED_RESPONSE",
}
REMEDIATION = {cause: declared(code).remediation for cause, code in CAUSE_CODES.items()}


@dataclass
class TokenDiagnosis:
    """What one token request proved. Never holds the token itself."""

    ok: bool
    cause: str
    detail: str
    token_url: str
    client_id: str
    scope_requested: str
    status: int | None = None
    error: str | None = None
    error_description: str | None = None
    token_type: str | None = None
    scope_granted: str | None = None
    expires_in: int | None = None
    expires_at: datetime | None = None
    claims: dict[str, Any] | None = None
    elapsed_ms: float | None = None
    remediation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at.isoformat()
        return out


def decode_jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, decoded WITHOUT verifying it (for display only); None otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = orjson.loads(base64.urlsafe_b64decode(padded))
    except ValueError:  # not base64, not JSON, or nested too deep (orjson does not recurse)
        return None
    return claims if isinstance(claims, dict) else None


def unreachable_detail(exc: BaseException) -> str:
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for e in chain:
        if isinstance(e, socket.gaierror):
            return "DNS: the host name does not resolve"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS: the certificate is not trusted ({e.verify_message})"
        if isinstance(e, ssl.SSLError):
            return f"TLS: the handshake failed ({e.reason or e})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused: nothing listens on that host and port"
        if isinstance(e, http.AttemptTimeout):
            return f"timed out: {e}"
        if isinstance(e, httpx.TimeoutException):
            return "timed out: the host did not answer"
    text = " ".join(str(e) for e in chain)
    if "Name or service not known" in text or "getaddrinfo" in text or "nodename" in text:
        return "DNS: the host name does not resolve"
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return "TLS: the handshake failed"
    if "refused" in text.lower():
        return "connection refused: nothing listens on that host and port"
    return f"the connection failed ({type(chain[0]).__name__})"


CLIENT_AUTH_METHODS = ("post", "basic")
# Marks the token request, for whoever hears the exchanges (opskit capture drops its form).
TOKEN_REQUEST_EXTENSION = "opskit.token_request"


def _token_request(token_url: str, client_id: str, secret: SecretRef, scope: str,
                   client_auth: str = "post") -> httpx.Request:
    """The token request: credentials in the form (``post``, as Delinea's clients send them) or
    in an HTTP Basic header (``basic``, RFC 6749 §2.3.1, which generic OAuth servers expect)."""
    headers = {"Accept": "application/json"}
    form = {"grant_type": "client_credentials", "scope": scope}
    if client_auth == "basic":
        pair = f"{quote(client_id, safe='')}:{quote(secret.resolve(), safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form.update(client_id=client_id, client_secret=secret.resolve())
    return httpx.Request("POST", token_url, data=form, headers=headers,
                         extensions={http.IDEMPOTENT_EXTENSION: True,
                                     TOKEN_REQUEST_EXTENSION: True})


def _expires_in(value: Any) -> int | None:
    """A token's lifetime in seconds, from a number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        seconds = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if seconds >= 0 else None


def interpret_token_response(response: httpx.Response, base: TokenDiagnosis
                             ) -> tuple[TokenDiagnosis, str | None]:
    """Classify a token endpoint's answer: (diagnosis, access token or None)."""
    d = base
    d.status = response.status_code
    ctype = response.headers.get("content-type", "")
    body = http.json_body(response)
    if response.status_code == 404:
        d.cause, d.detail = TOKEN_ENDPOINT_NOT_FOUND, "the token URL answered 404"
    elif not isinstance(body, dict):
        kind = "an HTML page" if "html" in ctype.lower() or response.text.lstrip()[:1] == "<" \
            else f"content of type {ctype or 'unknown'}"
        d.cause = NOT_JSON
        d.detail = f"HTTP {response.status_code} with {kind}, not a JSON token response"
    elif response.status_code == 200 and isinstance(body.get("access_token"), str):
        token = body["access_token"]
        remember(token)
        d.ok, d.cause = True, OK
        d.token_type = body.get("token_type")
        d.scope_granted = body.get("scope") or None
        d.expires_in = _expires_in(body.get("expires_in"))
        if d.expires_in is not None:
            d.expires_at = datetime.now(UTC) + timedelta(seconds=d.expires_in)
        d.claims = decode_jwt_claims(token)
        if d.scope_granted is None and d.claims and isinstance(d.claims.get("scope"), str):
            d.scope_granted = d.claims["scope"]
        d.detail = f"token issued ({d.token_type or 'no type'}, expires in " \
                   f"{d.expires_in if d.expires_in is not None else '?'} s)"
        d.remediation = ""
        return d, token
    else:
        d.error = str(body.get("error") or "") or None
        d.error_description = redact(str(body.get("error_description") or "")) or None
        # RFC 6749 §5.2: unauthorized_client is a client that authenticated but may not use
        # the grant; access_denied is also what a refused login may answer, so it stays a
        # credentials problem (whose remedy names the roles too).
        d.cause = {"invalid_client": INVALID_CLIENT, "unauthorized_client": CLIENT_NOT_AUTHORIZED,
                   "access_denied": INVALID_CLIENT, "invalid_grant": INVALID_CLIENT,
                   "invalid_scope": INVALID_SCOPE,
                   "unsupported_grant_type": UNSUPPORTED_GRANT}.get(d.error or "", UNEXPECTED)
        if d.cause == UNEXPECTED and response.status_code == 401:
            d.cause = INVALID_CLIENT
        d.detail = f"HTTP {response.status_code}: {d.error or 'no error code'}" + (
            f" ({d.error_description})" if d.error_description else "")
    d.ok = False
    d.remediation = REMEDIATION[d.cause]
    return d, None


def _base_diagnosis(token_url: str, client_id: str, scope: str) -> TokenDiagnosis:
    return TokenDiagnosis(ok=False, cause=UNEXPECTED, detail="", token_url=token_url,
                          client_id=client_id, scope_requested=scope)


def request_token(profile: Profile | Endpoint, scope: str | None = None, *,
                  client_auth: str = "post") -> tuple[TokenDiagnosis, str | None]:
    """One token request: (diagnosis, the token or None). Never raises for a refused token.

    The token is for the caller to use at once (see BearerAuth), never to keep or show."""
    if isinstance(profile, PracticeProfile):  # not yet connected
        from .config import connect

        with connect(profile) as connected:
            return request_token(connected, scope, client_auth=client_auth)
    if profile.flavor != "cloud" or not profile.client_secret:
        raise ConfigError(f"profile {profile.name!r} is not a cloud profile",
                          "the token check applies to the cloud connector's OAuth2 flow")
    scope = scope or profile.scope
    d = _base_diagnosis(profile.token_url, profile.client_id, scope)
    request = _token_request(profile.token_url, profile.client_id, profile.client_secret, scope,
                             client_auth)
    started = time.perf_counter()
    with http.client(verify=profile.verify, tls=http.needs_tls(profile.token_url),
                     limits=profile.limits.first_contact()) as c:
        try:
            response = c.send(request)
        except httpx.TransportError as exc:
            d.cause, d.detail = TENANT_UNREACHABLE, unreachable_detail(exc)
            d.remediation = REMEDIATION[TENANT_UNREACHABLE]
            return d, None
        except (ProtocolError, LimitExceeded) as exc:  # an answer past a limit, or unreadable
            d.cause, d.detail = UNEXPECTED, exc.message
            d.remediation = REMEDIATION[UNEXPECTED]
            return d, None
    d.elapsed_ms = (time.perf_counter() - started) * 1000
    return interpret_token_response(response, d)


def diagnose_token(profile: Profile | Endpoint, scope: str | None = None, *,
                   client_auth: str = "post") -> TokenDiagnosis:
    """Ask for one token and explain the answer (never raises for a refused token).

    A practice-tenant profile is connected first (the practice tenant runs for the call)."""
    return request_token(profile, scope, client_auth=client_auth)[0]


class BearerAuth(httpx.Auth):
    """A token already obtained: the token check sends the very token it diagnosed."""

    def __init__(self, token: str):
        remember(token)
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class StaticTokenAuth(httpx.Auth):
    """The on-prem connector's static bearer token, resolved from its reference per request."""

    def __init__(self, token: SecretRef):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.resolve()}"
        yield request

    def __repr__(self) -> str:
        return f"StaticTokenAuth({self._token!r})"


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client credentials: cached, renewed early, refetched on 401, one fetch at a time.

    A 401 drops the token and fetches a new one once more. A further 401 for the same request is
    worth another token only when the refused token was evidently good and went stale: the
    server had accepted it before, or the request waited in the retry loop (429, 503) before it
    was sent again. One request is sent at most ``MAX_SENDS`` times.
    """

    requires_response_body = True
    MAX_SENDS = 4

    def __init__(self, token_url: str, client_id: str, client_secret: SecretRef,
                 scope: str = "xpm.platform", renew_before: float = 60.0,
                 client_auth: str = "post"):
        if client_auth not in CLIENT_AUTH_METHODS:
            raise ConfigError(f"client_auth {client_auth!r} is not a client authentication "
                              "method", "use \"post\" (Delinea) or \"basic\"")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.renew_before = renew_before
        self.client_auth = client_auth
        self._token: str | None = None
        self._deadline = 0.0
        self._generation = 0
        self._accepted = 0  # the newest generation the server has accepted
        self._thread_lock = threading.Lock()
        # One lock per event loop, dropped with its loop (an id() could be reused by a new one).
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
            weakref.WeakKeyDictionary()
        self.fetches = 0
        self.last_diagnosis: TokenDiagnosis | None = None

    @classmethod
    def from_profile(cls, profile: Endpoint) -> ClientCredentialsAuth:
        if profile.client_secret is None:
            raise ConfigError(f"profile {profile.name!r} has no client_secret",
                              "set client_secret = \"env:NAME\" in the profile")
        return cls(profile.token_url, profile.client_id, profile.client_secret, profile.scope)

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth({self.token_url!r}, client_id={self.client_id!r})"

    # -- token bookkeeping -------------------------------------------------------------------
    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._deadline

    def _request(self) -> httpx.Request:
        return _token_request(self.token_url, self.client_id, self._secret, self.scope,
                              self.client_auth)

    def _store(self, response: httpx.Response) -> None:
        base = _base_diagnosis(self.token_url, self.client_id, self.scope)
        diagnosis, token = interpret_token_response(response, base)
        self.last_diagnosis = diagnosis
        self.fetches += 1
        if token is None:
            raise AuthError(f"no token from {self.token_url}: {diagnosis.detail}",
                            diagnosis.remediation, diagnosis=diagnosis)
        lifetime = diagnosis.expires_in if diagnosis.expires_in else 3600
        # Renew early, but never plan a renewal before half the lifetime.
        margin = min(self.renew_before, lifetime / 2)
        self._token, self._deadline = token, time.monotonic() + lifetime - margin
        self._generation += 1
        log.debug("token fetched for %s, expires in %s s", self.client_id, lifetime)

    def _authorize(self, request: httpx.Request) -> int:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return self._generation

    def _after(self, generation: int, response: httpx.Response, sends: int,
               refetched: bool) -> str:
        """What to do after an answer: "done", "resend" (a newer token exists) or "refetch"."""
        if response.status_code != 401:
            self._accepted = max(self._accepted, generation)
            return "done"
        if sends >= self.MAX_SENDS:
            return "done"
        if generation != self._generation:
            return "resend"  # another request renewed the token meanwhile
        stale = generation <= self._accepted or \
            response.extensions.get(http.ATTEMPTS_EXTENSION, 1) > 1
        if refetched and not stale:
            return "done"  # a brand-new token refused: fetching more will not help
        self._token = None
        return "refetch"

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    # -- flows -------------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request
                       ) -> Generator[httpx.Request, httpx.Response, None]:
        refetched = False
        for sends in range(1, self.MAX_SENDS + 1):
            with self._thread_lock:
                if not self._fresh():
                    response = yield self._request()
                    response.read()  # overriding the flow skips httpx's own read
                    self._store(response)
                generation = self._authorize(request)
            response = yield request
            with self._thread_lock:
                step = self._after(generation, response, sends, refetched)
            if step == "done":
                return
            refetched = refetched or step == "refetch"

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refetched = False
        for sends in range(1, self.MAX_SENDS + 1):
            if not self._fresh():
                async with self._async_lock():
                    if not self._fresh():  # another request may have renewed it meanwhile
                        response = yield self._request()
                        await response.aread()
                        self._store(response)
            generation = self._authorize(request)
            response = yield request
            step = self._after(generation, response, sends, refetched)
            if step == "done":
                return
            refetched = refetched or step == "refetch"


def auth_for(profile: Endpoint) -> httpx.Auth:
    """The auth flow a profile needs."""
    if profile.flavor == "cloud":
        return ClientCredentialsAuth.from_profile(profile)
    if profile.token is None:
        raise ConfigError(f"profile {profile.name!r} has no token", "set token = \"env:NAME\"")
    return StaticTokenAuth(profile.token)


def check_reachable(prof: Endpoint) -> None:
    """One unauthenticated request with few retries, before a report's patient reads: a tenant
    that cannot be reached is said in seconds (any HTTP answer, even 401, will do)."""
    with http.client(verify=prof.verify, limits=prof.limits.first_contact(),
                     tls=http.needs_tls(prof.base_url)) as client:
        try:
            client.get(f"{prof.base_url}/ServiceProviderConfig")
        except httpx.TransportError as exc:
            raise TransportError(f"profile {prof.name!r}: {prof.base_url} cannot be reached: "
                                 f"{unreachable_detail(exc)}",
                                 "check the profile's URL, the network and that the service is "
                                 "up; the token check (notebook token_check) says more") from None
