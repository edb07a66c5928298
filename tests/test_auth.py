"""Auth flows and the token diagnosis, against the practice tenant, small servers and Canaille."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from opskit import auth, http
from opskit.auth import ClientCredentialsAuth, StaticTokenAuth, auth_for, diagnose_token
from opskit.config import CloudProfile, SecretRef, get_profile
from opskit.errors import AuthError
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant

from .conftest import SMALL
from .servers import (
    OAuthError,
    Receive,
    Scope,
    Send,
    closed_port,
    cloud_profile,
    onprem_profile,
    self_signed_cert,
    send_json,
    serve_asgi,
)


def small_with(**cloud: Any) -> TenantFile:
    data = yaml.safe_load(SMALL.read_text())
    data["cloud"] = cloud
    return parse_tenant(data, "small+cloud")


def scim_client(sb: RunningSandbox, a: httpx.Auth, statuses: Counter[int] | None = None,
                ) -> httpx.AsyncClient:
    c = http.async_client(auth=a)
    if statuses is not None:
        async def count(response: httpx.Response) -> None:
            if "/scim/v2" in response.request.url.path:
                statuses[response.status_code] += 1
        c.event_hooks["response"].append(count)
    return c


# --------------------------------------------------------------------------- client credentials
def test_token_is_cached(sandbox: RunningSandbox) -> None:
    a = ClientCredentialsAuth.from_profile(cloud_profile(sandbox))

    async def go() -> list[int]:
        async with scim_client(sandbox, a) as c:
            return [(await c.get(sandbox.cloud_url + "/Users")).status_code for _ in range(5)]

    assert asyncio.run(go()) == [200] * 5
    assert a.fetches == 1 and sandbox.sandbox.issuer.issued == 1


def test_concurrent_requests_fetch_exactly_one_token(sandbox: RunningSandbox) -> None:
    a = ClientCredentialsAuth.from_profile(cloud_profile(sandbox))

    async def go() -> list[int]:
        async with scim_client(sandbox, a) as c:
            answers = await asyncio.gather(*(c.get(sandbox.cloud_url + "/Users")
                                             for _ in range(50)))
            return [r.status_code for r in answers]

    assert asyncio.run(go()) == [200] * 50
    assert a.fetches == 1 and sandbox.sandbox.issuer.issued == 1


def test_token_is_renewed_before_it_expires() -> None:
    """A 2-second token is renewed after 1 s (half its life), before the server refuses it."""
    statuses: Counter[int] = Counter()
    with running(small_with(expires_in=2)) as sb:
        a = ClientCredentialsAuth.from_profile(cloud_profile(sb))

        async def go() -> None:
            async with scim_client(sb, a, statuses) as c:
                await c.get(sb.cloud_url + "/Users")
                assert a.fetches == 1
                await asyncio.sleep(1.1)
                await c.get(sb.cloud_url + "/Users")

        asyncio.run(go())
    assert a.fetches == 2
    assert statuses == {200: 2}  # renewed ahead of time: no request was refused


def test_a_401_fetches_a_token_once_more(sandbox: RunningSandbox) -> None:
    statuses: Counter[int] = Counter()
    a = ClientCredentialsAuth.from_profile(cloud_profile(sandbox))

    async def go() -> list[int]:
        async with scim_client(sandbox, a, statuses) as c:
            await c.get(sandbox.cloud_url + "/Users")
            httpx.post(sandbox.url + "/_sandbox/expire-tokens")
            # Every one of these is refused once; together they fetch one new token.
            answers = await asyncio.gather(*(c.get(sandbox.cloud_url + "/Users")
                                             for _ in range(50)))
            return [r.status_code for r in answers]

    assert asyncio.run(go()) == [200] * 50
    assert a.fetches == 2
    assert statuses[401] == 50 and statuses[200] == 51


class TokenServer:
    """A token endpoint plus one resource whose answers per token follow `plan`.

    `plan(n, uses)` gives the status for the n-th token issued (1-based) on its uses-th use.
    """

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.issued = 0
        self.uses: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/token":
            self.issued += 1
            body = {"access_token": f"tok-{self.issued}-{'x' * 16}", "token_type": "Bearer",
                    "expires_in": 3600}
            await send_json(send, 200, json.dumps(body).encode(), b"application/json")
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode()
        token = header.removeprefix("Bearer ")
        self.uses[token] += 1
        n = int(token.split("-")[1])
        status = self.plan(n, self.uses[token])
        headers = [(b"retry-after", b"0")] if status == 503 else []
        await send_json(send, status, json.dumps({"status": str(status)}).encode(),
                        headers=headers)


def test_a_refused_new_token_is_not_fetched_forever() -> None:
    server = TokenServer(lambda n, uses: 401)
    with serve_asgi(server) as url:
        a = ClientCredentialsAuth(url + "/token", "svc", SecretRef.practice("pw-123456", "x"))
        with http.client(auth=a) as c:
            assert c.get(url + "/r").status_code == 401
    assert a.fetches == 2 and server.issued == 2  # the first token, and once more


def test_a_token_that_expires_while_a_request_waits_to_retry_is_renewed() -> None:
    """Tokens 1 and 2 are throttled on first use and expired by the time the retry goes out
    (a forced expiry shorter than Retry-After); token 3 works. The request still succeeds."""
    server = TokenServer(lambda n, uses: 200 if n >= 3 else (503 if uses == 1 else 401))

    async def go(url: str, a: ClientCredentialsAuth) -> int:
        async with http.async_client(auth=a) as c:
            return (await c.get(url + "/r")).status_code

    with serve_asgi(server) as url:
        a = ClientCredentialsAuth(url + "/token", "svc", SecretRef.practice("pw-123456", "x"))
        assert asyncio.run(go(url, a)) == 200
        sync = ClientCredentialsAuth(url + "/token", "svc", SecretRef.practice("pw-123456", "x"))
        server.plan = lambda n, uses: 200 if n >= 5 else (503 if uses == 1 else 401)
        with http.client(auth=sync) as c:
            assert c.get(url + "/r").status_code == 200
    assert a.fetches == 3 and sync.fetches == 2


def test_sync_flow_in_threads_with_a_plain_httpx_client(sandbox: RunningSandbox) -> None:
    """The sync flow works with any httpx.Client, and threads share one token fetch."""
    a = ClientCredentialsAuth.from_profile(cloud_profile(sandbox))
    statuses: list[int] = []
    with httpx.Client(auth=a) as c:
        def one() -> None:
            statuses.append(c.get(sandbox.cloud_url + "/Users").status_code)

        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.fetches == 1
        httpx.post(sandbox.url + "/_sandbox/expire-tokens")
        assert c.get(sandbox.cloud_url + "/Groups").status_code == 200
    assert statuses == [200] * 20
    assert a.fetches == 2


def test_same_auth_across_event_loops(sandbox: RunningSandbox) -> None:
    a = ClientCredentialsAuth.from_profile(cloud_profile(sandbox))

    async def go() -> list[int]:
        async with scim_client(sandbox, a) as c:
            answers = await asyncio.gather(*(c.get(sandbox.cloud_url + "/Users")
                                             for _ in range(10)))
            httpx.post(sandbox.url + "/_sandbox/expire-tokens")
            return [r.status_code for r in answers]

    for _ in range(3):
        assert asyncio.run(go()) == [200] * 10
    assert a.fetches == 3


def test_wrong_secret_is_an_auth_error_with_a_diagnosis(sandbox: RunningSandbox) -> None:
    prof = cloud_profile(sandbox, client_secret=SecretRef.practice("not-the-secret", "x"))
    with http.client(auth=auth_for(prof)) as c, pytest.raises(AuthError) as info:
        c.get(sandbox.cloud_url + "/Users")
    assert info.value.diagnosis.cause == auth.INVALID_CLIENT
    assert info.value.remediation == auth.REMEDIATION[auth.INVALID_CLIENT]
    assert "not-the-secret" not in str(info.value)


def test_static_token(sandbox: RunningSandbox) -> None:
    prof = onprem_profile(sandbox)
    a = auth_for(prof)
    assert isinstance(a, StaticTokenAuth)
    assert "practice-onprem-token" not in repr(a)
    with http.client(auth=a) as c:
        assert c.get(sandbox.onprem_url + "/Users").status_code == 200
    wrong = StaticTokenAuth(SecretRef.practice("wrong-token", "x"))
    with http.client(auth=wrong) as c:
        assert c.get(sandbox.onprem_url + "/Users").status_code == 401


def test_auth_for_a_cloud_profile(sandbox: RunningSandbox) -> None:
    a = auth_for(cloud_profile(sandbox))
    assert isinstance(a, ClientCredentialsAuth)
    assert "practice-only" not in repr(a)
    with pytest.raises(Exception, match="client_auth"):
        ClientCredentialsAuth("https://x", "y", SecretRef("env:Z"), client_auth="jwt")


# --------------------------------------------------------------------------- diagnose_token
def test_diagnosis_of_a_good_token(sandbox: RunningSandbox) -> None:
    d = diagnose_token(cloud_profile(sandbox))
    assert d.ok and d.cause == auth.OK and d.status == 200
    assert d.scope_requested == "xpm.platform" and d.scope_granted == "xpm.platform"
    assert d.token_type == "Bearer" and d.expires_in == 3600
    assert d.expires_at is not None and d.expires_at > datetime.now(UTC)
    assert d.claims is not None
    assert d.claims["sub"] == "scim.integration@acme.com" and d.claims["tenant"] == "acme"
    assert d.claims["scope"] == "xpm.platform"
    assert d.remediation == ""
    shown = json.dumps(d.as_dict(), default=str)
    assert "access_token" not in shown and "practice-only" not in shown
    assert diagnose_token(cloud_profile(sandbox), scope="xpmheadless").scope_granted == \
        "xpmheadless"


def test_diagnosis_of_the_builtin_sandbox_profile() -> None:
    d = diagnose_token(get_profile("sandbox"))
    assert d.ok and d.scope_granted == "xpm.platform"


def diagnose_url(token_url: str, **overrides: Any) -> auth.TokenDiagnosis:
    prof = CloudProfile("t", base_url="", token_url=token_url,
                        client_id="scim.integration@acme.com",
                        client_secret=SecretRef.practice("practice-only", "client_secret"),
                        **overrides)
    return diagnose_token(prof)


def test_unreachable_dns() -> None:
    d = diagnose_url("https://acme.opskit-test.invalid/identity/api/oauth2/token/xpmplatform")
    assert (d.ok, d.cause) == (False, auth.TENANT_UNREACHABLE)
    assert d.detail.startswith("DNS")
    assert d.remediation == auth.REMEDIATION[auth.TENANT_UNREACHABLE]


def test_unreachable_refused() -> None:
    d = diagnose_url(f"http://127.0.0.1:{closed_port()}/identity/api/oauth2/token/xpmplatform")
    assert d.cause == auth.TENANT_UNREACHABLE and "refused" in d.detail


def test_unreachable_tls_to_a_plain_http_port(sandbox: RunningSandbox) -> None:
    d = diagnose_url(sandbox.token_url.replace("http://", "https://"))
    assert d.cause == auth.TENANT_UNREACHABLE and d.detail.startswith("TLS")


def test_unreachable_tls_self_signed(tmp_path: Path, small_tenant: TenantFile) -> None:
    from opskit.sandbox.app import Sandbox
    from opskit.sandbox.oauth import TOKEN_PATH
    from opskit.sandbox.store import Tenant

    certfile, keyfile = self_signed_cert(tmp_path)
    app = Sandbox(Tenant(small_tenant)).app
    with serve_asgi(app, certfile=certfile, keyfile=keyfile) as url:
        d = diagnose_url(url + TOKEN_PATH)
        assert d.cause == auth.TENANT_UNREACHABLE
        assert d.detail.startswith("TLS: the certificate is not trusted")
        # Trusting that certificate (verify = CA bundle) makes the same endpoint work.
        trusted = diagnose_url(url + TOKEN_PATH, verify=str(certfile))
        assert trusted.ok


def test_a_client_for_plain_http_fails_closed_on_https(tmp_path: Path,
                                                      small_tenant: TenantFile) -> None:
    """Profiles whose URLs are all http skip loading the system's CAs; an https URL then
    trusts no one, not every one. And a certificate that is not trusted is not retried:
    trying again cannot change it."""
    from opskit.sandbox.app import Sandbox
    from opskit.sandbox.store import Tenant

    assert http.needs_tls("http://127.0.0.1:1/v2", "HTTPS://x.delinea.app/scim/v2")
    assert not http.needs_tls("http://127.0.0.1:1/v2", "")
    certfile, keyfile = self_signed_cert(tmp_path)
    with serve_asgi(Sandbox(Tenant(small_tenant)).app, certfile=certfile,
                    keyfile=keyfile) as url:
        with http.client(verify=str(certfile)) as trusting:
            assert trusting.get(url + "/_sandbox/health").status_code == 200
        retries: list[object] = []
        with http.client(tls=False) as plain:
            plain._transport.listeners.append(retries.append)  # type: ignore[attr-defined]
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                plain.get(url + "/_sandbox/health")
    assert retries == []  # an untrusted certificate is said at once, not retried


def test_token_endpoint_not_found(sandbox: RunningSandbox) -> None:
    d = diagnose_url(sandbox.url + "/identity/api/oauth2/token/wrong")
    assert (d.cause, d.status) == (auth.TOKEN_ENDPOINT_NOT_FOUND, 404)


def test_invalid_client(sandbox: RunningSandbox) -> None:
    d = diagnose_token(cloud_profile(sandbox, client_id="nobody@acme.com"))
    assert (d.cause, d.status, d.error) == (auth.INVALID_CLIENT, 401, "invalid_client")
    d = diagnose_token(cloud_profile(sandbox,
                                     client_secret=SecretRef.practice("nope-nope", "x")))
    assert d.cause == auth.INVALID_CLIENT and "nope-nope" not in json.dumps(d.as_dict(),
                                                                             default=str)


def test_invalid_scope(sandbox: RunningSandbox) -> None:
    d = diagnose_token(cloud_profile(sandbox, scope="bogus.scope"))
    assert (d.cause, d.status, d.error) == (auth.INVALID_SCOPE, 400, "invalid_scope")
    with running(small_with(accepted_scopes=["xpm.platform"])) as sb:
        assert diagnose_token(cloud_profile(sb, scope="xpmheadless")).cause == auth.INVALID_SCOPE


@pytest.mark.parametrize(("status", "error", "cause"), [
    (400, "unsupported_grant_type", auth.UNSUPPORTED_GRANT),
    (400, "invalid_scope", auth.INVALID_SCOPE),
    (401, "invalid_client", auth.INVALID_CLIENT),
    (400, "unauthorized_client", auth.CLIENT_NOT_AUTHORIZED),
    (400, "access_denied", auth.INVALID_CLIENT),
    (400, "something_else", auth.UNEXPECTED),
])
def test_oauth_error_codes_are_classified(status: int, error: str, cause: str) -> None:
    with serve_asgi(OAuthError(status, error)) as url:
        d = diagnose_url(url + "/token")
    assert (d.ok, d.cause, d.error, d.status) == (False, cause, error, status)
    assert d.remediation == auth.REMEDIATION[cause]


@pytest.fixture
def login_page() -> Iterator[str]:
    """A tiny http.server that answers every request with an HTML login page."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_html_login_page_is_not_json(login_page: str) -> None:
    d = diagnose_url(login_page + "/identity/api/oauth2/token/xpmplatform")
    assert (d.cause, d.status) == (auth.NOT_JSON, 200)
    assert "HTML" in d.detail
    a = ClientCredentialsAuth(login_page + "/token", "svc", SecretRef.practice("pw-123456", "x"))
    with http.client(auth=a) as c, pytest.raises(AuthError) as info:
        c.get(login_page + "/Users")
    assert info.value.diagnosis.cause == auth.NOT_JSON


def test_jwt_claims_are_decoded_without_trusting() -> None:
    import base64

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none'})}.{part({'sub': 'x', 'scope': 'xpm.platform'})}.bogus-sig"
    assert auth.decode_jwt_claims(token) == {"sub": "x", "scope": "xpm.platform"}
    assert auth.decode_jwt_claims("opaque-token") is None
    assert auth.decode_jwt_claims("a.!!!.c") is None


# --------------------------------------------------------------------------- Canaille (pytest-iam)
def test_client_credentials_against_canaille(canaille: Any, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A third-party OAuth2 server: Canaille issues a token through ClientCredentialsAuth."""
    models = canaille.models
    client = models.Client(
        client_id="opskit-cc", client_secret="canaille-practice-secret", client_name="opskit",
        client_uri="http://127.0.0.1", redirect_uris=["http://127.0.0.1/cb"],
        grant_types=["client_credentials"], response_types=["token"],
        token_endpoint_auth_method="client_secret_basic", scope=["xpm.platform"])
    canaille.backend.save(client)
    monkeypatch.setenv("OPSKIT_CANAILLE_SECRET", "canaille-practice-secret")
    secret = SecretRef("env:OPSKIT_CANAILLE_SECRET")
    metadata = httpx.get(canaille.url + ".well-known/openid-configuration").json()
    token_url = metadata["token_endpoint"]
    seen: list[str] = []

    async def resource(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"authorization", b"").decode())
            await send_json(send, 200, b"{}")

    try:
        with serve_asgi(resource) as url:
            a = ClientCredentialsAuth(token_url, "opskit-cc", secret, client_auth="basic")

            async def go() -> list[int]:
                async with http.async_client(auth=a) as c:
                    answers = await asyncio.gather(*(c.get(url + "/Users") for _ in range(10)))
                    return [r.status_code for r in answers]

            assert asyncio.run(go()) == [200] * 10
        assert a.fetches == 1
        assert a.last_diagnosis is not None and a.last_diagnosis.scope_granted == "xpm.platform"
        token = seen[0].removeprefix("Bearer ")
        assert set(seen) == {f"Bearer {token}"}
        issued = canaille.backend.query(models.Token, access_token=token)
        assert len(issued) == 1 and issued[0].client.client_id == "opskit-cc"
        # Delinea's form-post client authentication is refused by Canaille: classified as such.
        prof = CloudProfile("iam", token_url=token_url, client_id="opskit-cc",
                            client_secret=secret)
        d = diagnose_token(prof)
        assert (d.cause, d.status) == (auth.INVALID_CLIENT, 401)
        assert diagnose_token(prof, client_auth="basic").ok
        wrong = CloudProfile("iam", token_url=token_url, client_id="opskit-cc",
                             client_secret=SecretRef.practice("wrong-canaille-secret", "x"))
        assert diagnose_token(wrong, client_auth="basic").cause == auth.INVALID_CLIENT
    finally:
        canaille.backend.delete(client)

