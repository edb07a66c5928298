"""Small real servers on 127.0.0.1 for the client-side tests: any ASGI app, TLS, closed ports.

Nothing here mocks httpx: every test talks HTTP to a socket on the loopback interface.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from opskit.config import CloudProfile, OnPremProfile, Profile, SecretRef
from opskit.sandbox.serve import RunningSandbox, bind, serving
from opskit.scim import urns

LOOPBACK = "127.0.0.1"
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _bind(port: int = 0) -> socket.socket:
    return bind(LOOPBACK, port)


@contextmanager
def serve_asgi(app: Any, *, certfile: Path | None = None,
               keyfile: Path | None = None) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port for the block; yields its base URL."""
    with serving(app, log_level="critical", certfile=certfile, keyfile=keyfile,
                 name="test server") as url:
        yield url


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    sock = _bind()
    port = sock.getsockname()[1]
    sock.close()
    return port


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that no trust store knows: (cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opskit test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def cloud_profile(sb: RunningSandbox, name: str = "practice", **overrides: Any) -> Profile:
    """A cloud profile pointing at a running practice tenant, wired as `sandbox` is."""
    sa = sb.tenant.file.service_account
    fields: dict[str, Any] = {
        "base_url": sb.cloud_url, "token_url": sb.token_url, "client_id": sa.client_id,
        "client_secret": SecretRef.practice(sa.client_secret, "client_secret"), **overrides}
    return CloudProfile(name, **fields)


def onprem_profile(sb: RunningSandbox, name: str = "practice-onprem") -> Profile:
    return OnPremProfile(name, base_url=sb.onprem_url,
                         token=SecretRef.practice(sb.tenant.file.onprem.token, "onprem_token"))


async def send_json(send: Send, status: int, body: bytes,
                    content_type: bytes = b"application/scim+json",
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer a raw ASGI request."""
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()),
        *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    """The whole body of a raw ASGI request."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class ListServer:
    """A SCIM-ish /v2/Users list with knobs for what real servers do.

    delay: seconds per list request (to see concurrency); cap: largest page it returns;
    overlap: pages after the first also repeat the resource before them; grow: called with
    the request number, may add resources; lenient: application/json, itemsPerPage echoing
    count, no Resources key when empty, numeric ids, totalResults as a string;
    total: False to leave totalResults out; throttle_above: answer 429 (no Retry-After) to a
    list request that finds that many already in flight; refuse_above: answer 400 to a count
    above it (as a strict server would to a page larger than it allows); failing: paths that
    answer 500.
    """

    def __init__(self, n: int, *, delay: float = 0.0, cap: int | None = None,
                 overlap: bool = False, grow: Callable[[int, list[Any]], None] | None = None,
                 lenient: bool = False, total: bool = True,
                 throttle_above: int | None = None, refuse_above: int | None = None,
                 failing: tuple[str, ...] = ()) -> None:
        self.items: list[dict[str, Any]] = [
            {"schemas": [urns.USER], "id": i if lenient else str(i), "userName": f"user{i}@x.org"}
            for i in range(1, n + 1)]
        self.delay, self.cap, self.overlap, self.grow = delay, cap, overlap, grow
        self.lenient, self.total = lenient, total
        self.throttle_above = throttle_above
        self.refuse_above = refuse_above
        self.failing = failing
        self.counts: list[int] = []  # the count each list request asked for
        self.throttled = 0
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.log: list[tuple[int, float, float]] = []  # (startIndex, started, ended)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        ctype = b"application/json" if self.lenient else b"application/scim+json"
        if path in self.failing:
            await send_json(send, 500, json.dumps({"schemas": [urns.ERROR], "status": "500",
                                                   "detail": "internal error"}).encode())
            return
        if path.startswith("/v2/Users/"):
            rid = path.rsplit("/", 1)[1]
            found = [r for r in self.items if str(r["id"]) == rid]
            if found:
                await send_json(send, 200, json.dumps(found[0]).encode(), ctype)
            else:
                await send_json(send, 404, json.dumps({
                    "schemas": [urns.ERROR], "status": "404", "detail": "no such user"}).encode())
            return
        if path != "/v2/Users":
            await send_json(send, 404, json.dumps({"schemas": [urns.ERROR], "status": "404",
                                                   "detail": f"{path} not here"}).encode())
            return
        self.requests += 1
        self.counts.append(int(query.get("count", 100)))
        if self.refuse_above is not None and self.counts[-1] > self.refuse_above:
            await send_json(send, 400, json.dumps({
                "schemas": [urns.ERROR], "status": "400", "scimType": "invalidValue",
                "detail": f"count must not exceed {self.refuse_above}"}).encode())
            return
        if self.throttle_above is not None and self.in_flight >= self.throttle_above:
            self.throttled += 1
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/scim+json")]})
            await send({"type": "http.response.body", "body": json.dumps({
                "schemas": [urns.ERROR], "status": "429", "detail": "slow down"}).encode()})
            return
        if self.grow:
            self.grow(self.requests, self.items)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.monotonic()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.in_flight -= 1
        start = int(query.get("startIndex", 1))
        count = int(query.get("count", 100))
        if self.cap:
            count = min(count, self.cap)
        items = self.items
        if "filter" in query:  # only `userName eq "…"`
            wanted = json.loads(query["filter"].split(" eq ", 1)[1])
            items = [r for r in items if r["userName"] == wanted]
        first = start - 1
        if self.overlap and start > 1:
            first -= 1
        page = items[first:start - 1 + count]
        body: dict[str, Any] = {"schemas": [urns.LIST_RESPONSE], "startIndex": start,
                                "itemsPerPage": count if self.lenient else len(page)}
        if self.total:
            body["totalResults"] = str(len(items)) if self.lenient else len(items)
        if page or not self.lenient:
            body["Resources"] = page
        self.log.append((start, started, time.monotonic()))
        await send_json(send, 200, json.dumps(body).encode(), ctype)


class OAuthError:
    """A token endpoint that answers one fixed RFC 6749 error."""

    def __init__(self, status: int, error: str) -> None:
        self.status, self.error = status, error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        body = json.dumps({"error": self.error, "error_description": "as configured"}).encode()
        await send_json(send, self.status, body, b"application/json")


class ScimProxy:
    """A real HTTP proxy on the loopback in front of a SCIM server (forwarding each request
    as it came), with what an unreliable path or a lax server does.

    lose_posts: a POST is forwarded and acted on, but the client gets this status instead of
    the answer (500: a SCIM error; 201: an empty body); ignore_filter: `filter` is dropped, so a
    list answers every resource, as a server that does not filter would; count: the largest
    page it asks the server for; fail_filters: a request with a `filter` is not forwarded but
    answered with this status, as a server that stops answering lookups would;
    fail_reads_after_write: once a write (POST, PUT, PATCH, DELETE) was forwarded, every later
    GET is answered with this status, as a server that goes down mid-run would.
    ``sent`` records (method, path) of every request forwarded; ``failed`` counts the others.
    """

    def __init__(self, upstream: str, *, lose_posts: int | None = None,
                 ignore_filter: bool = False, count: int | None = None,
                 fail_filters: int | None = None,
                 fail_reads_after_write: int | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.lose_posts, self.ignore_filter, self.count = lose_posts, ignore_filter, count
        self.fail_filters = fail_filters
        self.fail_reads_after_write = fail_reads_after_write
        self.written = False
        self.sent: list[tuple[str, str]] = []
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        import httpx

        body = await read_body(receive)
        query = [(k, v) for k, v in parse_qsl(scope["query_string"].decode())
                 if not (self.ignore_filter and k == "filter")]
        refuse = (self.fail_filters if self.fail_filters and any(k == "filter" for k, _ in query)
                  else self.fail_reads_after_write if self.written and scope["method"] == "GET"
                  else None)
        if refuse:
            self.failed += 1
            await send_json(send, refuse, json.dumps({
                "schemas": [urns.ERROR], "status": str(refuse),
                "detail": "service unavailable"}).encode())
            return
        self.written = self.written or scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        if self.count is not None:
            query = [(k, v) for k, v in query if k != "count"] + [("count", str(self.count))]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]
                   if k.lower() in (b"authorization", b"content-type", b"accept")}
        method, path = scope["method"], scope["path"]
        self.sent.append((method, path))
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(method, self.upstream + path, params=query,
                                          headers=headers, content=body)
        if self.lose_posts and method == "POST":
            lost = json.dumps({"schemas": [urns.ERROR], "status": str(self.lose_posts),
                               "detail": "internal error"}).encode() \
                if self.lose_posts >= 400 else b""
            await send_json(send, self.lose_posts, lost)
            return
        await send_json(send, answer.status_code, answer.content,
                        answer.headers.get("content-type", "application/scim+json").encode())
