"""httpx clients as opskit uses them: bounded in time and size, bounded retries, redacted logs.

Retries live in a transport wrapper, so every request — SCIM calls and token requests alike —
gets the same policy: 429, 502, 503 and 504 and connection failures are retried with exponential
backoff and full jitter, ``Retry-After`` (seconds or an HTTP date) is honoured, and both the
number of attempts and the total time are bounded. A request that may have changed something
(POST, PATCH) is retried only when the server cannot have acted on it: a 429, or a connection
that was never made.

The same wrapper holds every answer to the profile's limits (opskit.limits): one attempt, from
sending to the body's last byte, has ``request_timeout`` (a body that dribbles in counts, not
only the gaps between its bytes), every attempt of a request together has ``retry_budget``, and
a body is read, decompressed, only up to ``max_body_mb``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import os
import random
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpcore  # noqa: F401  (see below)
import httpx
import orjson

from ._redact import logger, redact
from ._version import __version__
from .errors import ConfigError, LimitExceeded, ProtocolError
from .limits import DEFAULT as DEFAULT_LIMITS
from .limits import Limits

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
USER_AGENT = f"opskit/{__version__} (+https://github.com/opskit)"
# Who hears every answer of the clients made while they listen (``opskit capture``): each
# attempt, a 429 and its retry alike, with its request. See `recording`.
Listener = Callable[[httpx.Request, httpx.Response], None]
_listeners: contextvars.ContextVar[tuple[Listener, ...]] = contextvars.ContextVar(
    "opskit_http_listeners", default=())
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout,
               httpx.WriteTimeout)


@dataclass
class RetryPolicy:
    max_attempts: int = DEFAULT_LIMITS.max_attempts
    max_total_seconds: float = DEFAULT_LIMITS.retry_budget
    backoff_base: float = 0.25
    backoff_cap: float = 15.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_limits(cls, limits: Limits) -> RetryPolicy:
        return cls(max_attempts=limits.max_attempts, max_total_seconds=limits.retry_budget)

    @classmethod
    def first_contact(cls, limits: Limits) -> RetryPolicy:
        """For a check that should say "unreachable" in seconds (see Limits.first_contact)."""
        return cls.from_limits(limits.first_contact())

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
    idempotent = request.method in IDEMPOTENT or bool(request.extensions.get(IDEMPOTENT_EXTENSION))
    if exc is not None:
        if _untrusted_certificate(exc):
            return False
        return isinstance(exc, _NEVER_SENT) or (idempotent and isinstance(exc, _MAYBE_SENT))
    return status == 429 or (idempotent and status in RETRY_STATUSES)


class AttemptTimeout(httpx.ReadTimeout):
    """One attempt outlasted ``request_timeout``: retried like any read timeout."""


class _Inflater:
    """A content encoding undone a bounded piece at a time: a few kilobytes of gzip can hold
    gigabytes, and zlib would return them all from one call. gzip and deflate are what opskit
    asks for (Accept-Encoding); any other encoding a server sends anyway goes through httpx's
    own decoder, a wire chunk at a time."""

    PIECE = 1 << 20  # bytes of inflated output per step

    def __init__(self, request: httpx.Request, wbits: int | None = None,
                 other: Any = None):
        self.request = request
        self.wbits = wbits
        self.zlib = zlib.decompressobj(wbits) if wbits is not None else None
        self.other = other
        self.fed = False

    @classmethod
    def for_encoding(cls, encoding: str, request: httpx.Request) -> _Inflater:
        if encoding in ("", "identity"):
            return cls(request)
        if encoding in ("gzip", "x-gzip"):
            return cls(request, zlib.MAX_WBITS | 16)
        if encoding == "deflate":
            return cls(request, zlib.MAX_WBITS)
        from httpx._decoders import SUPPORTED_DECODERS, MultiDecoder

        names = [n.strip() for n in encoding.split(",") if n.strip()]
        decoders = [SUPPORTED_DECODERS[n]() for n in names if n in SUPPORTED_DECODERS]
        return cls(request, other=MultiDecoder(decoders) if decoders else None)

    def feed(self, raw: bytes) -> Iterator[bytes]:
        if self.zlib is None:
            yield self._other(self.other.decode, raw) if self.other is not None else raw
            return
        first, self.fed = not self.fed, True
        data = raw
        try:
            while True:
                piece = self.zlib.decompress(data, self.PIECE)
                yield piece
                data = self.zlib.unconsumed_tail
                if not data and len(piece) < self.PIECE:  # a full piece may have more behind it
                    return
        except zlib.error as exc:
            if first and self.wbits == zlib.MAX_WBITS:  # "deflate" sent raw, without zlib's header
                self.zlib, self.wbits = zlib.decompressobj(-zlib.MAX_WBITS), -zlib.MAX_WBITS
                yield from self.feed(raw)
                return
            raise self._corrupt(exc) from None

    def flush(self) -> Iterator[bytes]:
        if self.zlib is not None:
            try:
                yield self.zlib.flush()
            except zlib.error as exc:
                raise self._corrupt(exc) from None
        elif self.other is not None:
            yield self._other(self.other.flush)

    def _other(self, step: Callable[..., bytes], *data: bytes) -> bytes:
        try:
            return step(*data)
        except httpx.DecodingError as exc:
            raise self._corrupt(exc) from None

    def _corrupt(self, exc: Exception) -> ProtocolError:
        return ProtocolError(f"{self.request.method} {redact(str(self.request.url))} "
                             f"answered with a compressed body that cannot be read ({exc})")


class _Attempt:
    """One attempt: its deadline, the timeouts that keep each wait within it, and the body read
    so far, held to the size limit."""

    def __init__(self, request: httpx.Request, limits: Limits, policy: RetryPolicy,
                 started: float):
        now = time.monotonic()
        remaining = policy.max_total_seconds - (now - started)
        self.seconds = max(min(limits.request_timeout, remaining), 0.001)
        self.deadline = now + self.seconds
        self.request, self.limits = request, limits
        self.chunks: list[bytes] = []
        self.size = 0
        self.inflater = _Inflater(request)
        # What httpcore applies to each wait (connecting, each read and write, the pool): none
        # may outlast the attempt.
        request.extensions = {**request.extensions, "timeout": {
            "connect": min(limits.connect_timeout, self.seconds), "read": self.seconds,
            "write": self.seconds, "pool": self.seconds}}

    def timed_out(self) -> AttemptTimeout:
        bound = "limits.request_timeout" if self.seconds >= self.limits.request_timeout else \
            "what was left of limits.retry_budget"
        return AttemptTimeout(f"no complete answer within {self.seconds:.3g} s ({bound})",
                              request=self.request)

    def started(self, response: httpx.Response) -> None:
        """Refuse at once a body whose declared length is over the limit; choose how to
        inflate what is compressed."""
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if declared.isdigit() and encoding == "identity" and \
                int(declared) > self.limits.max_body_bytes:
            raise self.too_large()
        self.inflater = _Inflater.for_encoding(encoding, self.request)

    def add(self, raw: bytes) -> None:
        """Bytes as they came off the wire: inflated a piece at a time, so a gzip body is held
        to the limit as it inflates; a body that dribbles in is held to the deadline."""
        self._keep(self.inflater.feed(raw))
        if time.monotonic() > self.deadline:
            raise self.timed_out()

    def finish(self, response: httpx.Response) -> httpx.Response:
        self._keep(self.inflater.flush())
        response._content = b"".join(self.chunks)  # where Response.read() keeps the body
        return response

    def _keep(self, pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            self.size += len(piece)
            if self.size > self.limits.max_body_bytes:
                raise self.too_large()
            self.chunks.append(piece)

    def too_large(self) -> LimitExceeded:
        return LimitExceeded(f"{self.request.method} {redact(str(self.request.url))} answered "
                             f"with more than {self.limits.max_body_mb:g} MB "
                             "(limits.max_body_mb)", "max_body_mb")


class RetryTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Wraps a transport with the retry policy and the profile's limits; listeners hear of every
    throttled answer."""

    def __init__(self, inner: Any, policy: RetryPolicy | None = None,
                 limits: Limits = DEFAULT_LIMITS):
        self.inner = inner
        self.limits = limits
        self.policy = policy or RetryPolicy.from_limits(limits)
        self.listeners: list[Callable[[int | str], None]] = []
        # Answers a caller knows are final whatever their status (a state only an administrator
        # clears, say): trying again cannot help, so they are never retried.
        self.final_answers: list[Callable[[httpx.Response], bool]] = []
        self.heard = _listeners.get()  # set when the client is made (see `recording`)

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
        if any(final(response) for final in self.final_answers):
            return None
        delay = self._delay(attempt, response, started)
        if delay is not None:
            log.info("retrying %s %s after %d in %.2fs (attempt %d)", request.method,
                     redact(str(request.url)), status, delay, attempt + 1)
            self._notify(status)
        return delay

    async def _aread(self, request: httpx.Request, started: float) -> httpx.Response:
        """One attempt, body included, within its deadline and the size limit."""
        attempt = _Attempt(request, self.limits, self.policy, started)
        try:
            async with asyncio.timeout(attempt.seconds):  # the deadline, to the millisecond
                response = await self.inner.handle_async_request(request)
                try:
                    attempt.started(response)
                    async for raw in response.aiter_raw():
                        attempt.add(raw)
                    return attempt.finish(response)
                except BaseException:
                    await response.aclose()
                    raise
        except (TimeoutError, httpx.ReadTimeout):
            raise attempt.timed_out() from None

    def _read(self, request: httpx.Request, started: float) -> httpx.Response:
        """The blocking twin of _aread. Without a timer to interrupt a read, a server that falls
        silent mid-body is caught by the read timeout (the attempt's whole budget) instead."""
        attempt = _Attempt(request, self.limits, self.policy, started)
        try:
            response = self.inner.handle_request(request)
            try:
                attempt.started(response)
                for raw in response.iter_raw():
                    attempt.add(raw)
                return attempt.finish(response)
            except BaseException:
                response.close()
                raise
        except httpx.ReadTimeout:
            raise attempt.timed_out() from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                # The body is read here: a connection dropped mid-body is a transport failure
                # like any other, and only here can it still be retried.
                response = await self._aread(request, started)
                self._tell(request, response)
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
                response = self._read(request, started)  # see handle_async_request
                self._tell(request, response)
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

    def _tell(self, request: httpx.Request, response: httpx.Response) -> None:
        for listener in self.heard:
            listener(request, response)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def close(self) -> None:
        self.inner.close()


@contextlib.contextmanager
def recording(listener: Listener) -> Iterator[None]:
    """Every client made in the block tells ``listener`` each answer it reads, body decoded,
    before retrying or returning it. "In the block" is this context: tasks started in it
    inherit it, and so does the thread of scim.run_sync; other threads do not."""
    token = _listeners.set((*_listeners.get(), listener))
    try:
        yield
    finally:
        _listeners.reset(token)


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


def _common(limits: Limits, headers: dict[str, str] | None) -> dict[str, Any]:
    # The transport narrows these to each attempt's deadline (see _Attempt).
    timeout = httpx.Timeout(limits.request_timeout, connect=limits.connect_timeout)
    return {"timeout": timeout, "follow_redirects": False,
            "headers": {"User-Agent": USER_AGENT,
                        "Accept": "application/scim+json, application/json",
                        # What _Inflater undoes a bounded piece at a time (httpx would add br
                        # and zstd where their packages are installed).
                        "Accept-Encoding": "gzip, deflate", **(headers or {})}}


def async_client(*, auth: httpx.Auth | None = None, verify: bool | str = True,
                 policy: RetryPolicy | None = None, limits: Limits = DEFAULT_LIMITS,
                 max_connections: int = 32, headers: dict[str, str] | None = None,
                 tls: bool = True) -> httpx.AsyncClient:
    pool = httpx.Limits(max_connections=max_connections,
                        max_keepalive_connections=max_connections)
    transport = RetryTransport(httpx.AsyncHTTPTransport(verify=tls_verify(verify, tls),
                                                        limits=pool), policy, limits)
    return httpx.AsyncClient(auth=auth, transport=transport,
                             event_hooks={"response": [_alog_response]},
                             **_common(limits, headers))


def client(*, auth: httpx.Auth | None = None, verify: bool | str = True,
           policy: RetryPolicy | None = None, limits: Limits = DEFAULT_LIMITS,
           headers: dict[str, str] | None = None, tls: bool = True) -> httpx.Client:
    """A blocking client with the retry policy and limits."""
    transport = RetryTransport(httpx.HTTPTransport(verify=tls_verify(verify, tls)), policy,
                               limits)
    return httpx.Client(auth=auth, transport=transport, event_hooks={"response": [_log_response]},
                        **_common(limits, headers))


def json_body(response: httpx.Response) -> Any:
    """The JSON an answer holds, or None where it holds none that can be read: not JSON,
    invalid UTF-8, or nested deeper than 1,024 levels (refused by orjson, never
    parsed recursively)."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


# httpx logs each request's URL at INFO; its records pass through the same mask.
logger("httpx")
logger("httpcore")
