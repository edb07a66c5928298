"""httpx clients as opskit uses them: explicit timeouts, bounded retries, redacted logs.

Retries live in a transport wrapper, so every request — SCIM calls and token requests alike —
gets the same policy: 429, 502, 503 and 504 and connection failures are retried with exponential
backoff and full jitter, ``Retry-After`` (seconds or an HTTP date) is honoured, and both the
number of attempts and the total time are bounded. A request that may have changed something
(POST, PATCH) is retried only when the server cannot have acted on it: a 429, or a connection
that was never made.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpcore  # noqa: F401  (see below)
import httpx

from ._redact import logger, redact
from .errors import ConfigError

# httpx loads its HTTP core when the first client is made, and anyio its asyncio backend inside
# the first request, where the import (~40 ms) holds up the event loop while other requests wait
# to be sent. Both load with opskit instead.
with contextlib.suppress(ImportError):  # a private module: if it moves, loaded as before
    import anyio._backends._asyncio  # noqa: F401

log = logger("opskit.http")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Marks a POST that is safe to repeat (a client-credentials token request).
IDEMPOTENT_EXTENSION = "opskit.idempotent"
# Set on the response: how many times the request was sent (the auth flow reads it).
ATTEMPTS_EXTENSION = "opskit.attempts"
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=120.0)
USER_AGENT = "opskit/0.1 (+https://github.com/opskit)"
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout,
               httpx.WriteTimeout)


@dataclass
class RetryPolicy:
    max_attempts: int = 10
    max_total_seconds: float = 120.0
    backoff_base: float = 0.25
    backoff_cap: float = 15.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)]."""
        return self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC)
    return max(0.0, (when - now_dt).total_seconds())


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether a connection failed because the server's certificate is not trusted: trying
    again cannot change that, so it is said at once."""
    seen: BaseException | None = exc
    for _ in range(8):  # the ssl error sits a few causes down, under httpcore's and anyio's
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _may_retry(request: httpx.Request, status: int | None, exc: Exception | None) -> bool:
    idempotent = request.method in IDEMPOTENT or request.extensions.get(IDEMPOTENT_EXTENSION)
    if exc is not None:
        if _untrusted_certificate(exc):
            return False
        return isinstance(exc, _NEVER_SENT) or (idempotent and isinstance(exc, _MAYBE_SENT))
    return status == 429 or (idempotent and status in RETRY_STATUSES)


class RetryTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Wraps a transport with the retry policy; listeners hear of every throttled answer."""

    def __init__(self, inner: Any, policy: RetryPolicy | None = None):
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.listeners: list[Callable[[int | str], None]] = []

    def _delay(self, attempt: int, response: httpx.Response | None, started: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent."""
        if attempt + 1 >= self.policy.max_attempts:
            return None
        hinted = retry_after_seconds(response.headers.get("retry-after")) if response else None
        delay = hinted if hinted is not None else self.policy.backoff(attempt)
        if time.monotonic() - started + delay > self.policy.max_total_seconds:
            return None
        return delay

    def _notify(self, what: int | str) -> None:
        for listener in self.listeners:
            listener(what)

    def _after_error(self, request: httpx.Request, exc: httpx.TransportError, attempt: int,
                     started: float) -> float | None:
        delay = self._delay(attempt, None, started) if _may_retry(request, None, exc) else None
        if delay is not None:
            log.info("retrying %s %s after %s in %.2fs (attempt %d)", request.method,
                     redact(str(request.url)), type(exc).__name__, delay, attempt + 1)
            self._notify(type(exc).__name__)
        return delay

    def _after_status(self, request: httpx.Request, response: httpx.Response, attempt: int,
                      started: float) -> float | None:
        status = response.status_code
        if status not in RETRY_STATUSES or not _may_retry(request, status, None):
            return None
        delay = self._delay(attempt, response, started)
        if delay is not None:
            log.info("retrying %s %s after %d in %.2fs (attempt %d)", request.method,
                     redact(str(request.url)), status, delay, attempt + 1)
            self._notify(status)
        return delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = await self.inner.handle_async_request(request)
                # Read the body here: a connection dropped mid-body is a transport failure
                # like any other, and only here can it still be retried.
                await response.aread()
            except httpx.TransportError as exc:
                delay = self._after_error(request, exc, attempt, started)
                if delay is None:
                    raise
            else:
                delay = self._after_status(request, response, attempt, started)
                if delay is None:
                    response.extensions = {**response.extensions, ATTEMPTS_EXTENSION: attempt + 1}
                    return response
                await response.aclose()
            attempt += 1
            await asyncio.sleep(delay)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = self.inner.handle_request(request)
                response.read()  # see handle_async_request
            except httpx.TransportError as exc:
                delay = self._after_error(request, exc, attempt, started)
                if delay is None:
                    raise
            else:
                delay = self._after_status(request, response, attempt, started)
                if delay is None:
                    response.extensions = {**response.extensions, ATTEMPTS_EXTENSION: attempt + 1}
                    return response
                response.close()
            attempt += 1
            time.sleep(delay)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def close(self) -> None:
        self.inner.close()


def _log_response(response: httpx.Response) -> None:
    if log.isEnabledFor(logging.DEBUG):
        request = response.request
        log.debug("%s %s → %d", request.method, redact(str(request.url)), response.status_code)


async def _alog_response(response: httpx.Response) -> None:
    _log_response(response)


def tls_verify(verify: bool | str, tls: bool = True) -> bool | ssl.SSLContext:
    """A profile's `verify` as httpx takes it: a CA bundle file or folder becomes a context
    (httpx deprecates paths).

    tls=False, for a client that only ever speaks plain http (the practice tenant on loopback),
    skips loading the system's CA store (~40 ms a client): its context trusts no one, so an
    https URL given to it anyway fails closed. A CA bundle named in the profile is still read,
    so a wrong one is still said.
    """
    if isinstance(verify, bool):
        if verify and not tls:
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return verify
    path = os.path.expanduser(verify)
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"the profile's CA bundle {path!r} cannot be used "
                          f"({exc.strerror or exc})", "set verify in the profile to a PEM file "
                          "or folder of CA certificates that exists, or to true") from None


def needs_tls(*urls: str) -> bool:
    """Whether any of these URLs is https (else a client can skip loading CAs: see tls_verify)."""
    return any(url.lower().startswith("https:") for url in urls if url)


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """An SSL context for a profile's `verify`, for checks that open a socket themselves."""
    chosen = tls_verify(verify)
    if isinstance(chosen, ssl.SSLContext):
        return chosen
    context = ssl.create_default_context()
    if chosen is False:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _common(verify: bool | str, headers: dict[str, str] | None) -> dict[str, Any]:
    return {"timeout": TIMEOUT, "follow_redirects": False,
            "headers": {"User-Agent": USER_AGENT,
                        "Accept": "application/scim+json, application/json", **(headers or {})}}


def async_client(*, auth: httpx.Auth | None = None, verify: bool | str = True,
                 policy: RetryPolicy | None = None, max_connections: int = 32,
                 headers: dict[str, str] | None = None, tls: bool = True) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    transport = RetryTransport(httpx.AsyncHTTPTransport(verify=tls_verify(verify, tls),
                                                        limits=limits), policy)
    return httpx.AsyncClient(auth=auth, transport=transport,
                             event_hooks={"response": [_alog_response]},
                             **_common(verify, headers))


def client(*, auth: httpx.Auth | None = None, verify: bool | str = True,
           policy: RetryPolicy | None = None,
           headers: dict[str, str] | None = None, tls: bool = True) -> httpx.Client:
    transport = RetryTransport(httpx.HTTPTransport(verify=tls_verify(verify, tls)), policy)
    return httpx.Client(auth=auth, transport=transport, event_hooks={"response": [_log_response]},
                        **_common(verify, headers))


# httpx logs each request's URL at INFO; its records pass through the same mask.
logger("httpx")
logger("httpcore")
