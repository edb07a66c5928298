"""RetryTransport and redaction, over real HTTP on 127.0.0.1 (no mocked httpx)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opskit import http
from opskit._redact import MASK, redact, remember
from opskit.auth import ClientCredentialsAuth, StaticTokenAuth, diagnose_token
from opskit.config import SecretRef
from opskit.errors import AuthError, OpskitError, ScimError
from opskit.http import RetryPolicy, retry_after_seconds
from opskit.sandbox.serve import RunningSandbox, running
from opskit.scim import ScimClient

from .conftest import SMALL
from .servers import (
    Receive,
    Scope,
    Send,
    closed_port,
    cloud_profile,
    read_body,
    send_json,
    serve_asgi,
)

PRACTICE_SECRET = "practice-only"
LOGGERS = ("opskit", "opskit.http", "opskit.auth", "opskit.scim", "httpx", "httpcore")


# --------------------------------------------------------------------------- Retry-After
def test_retry_after_delta_seconds() -> None:
    assert retry_after_seconds("0") == 0.0
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds(" 120 ") == 120.0


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    later = email.utils.formatdate(now + 30, usegmt=True)  # e.g. "Tue, 14 Nov 2023 22:13:50 GMT"
    assert retry_after_seconds(later, now=now) == pytest.approx(30.0)
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds(earlier, now=now) == 0.0
    # The obsolete RFC 850 and asctime forms are HTTP dates too.
    assert retry_after_seconds("Tuesday, 14-Nov-23 22:13:50 GMT", now=now) == pytest.approx(30.0)
    assert retry_after_seconds("Tue Nov 14 22:13:50 2023", now=now) == pytest.approx(30.0)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1e3", "Tue, 99 Foo 2023"])
def test_retry_after_unreadable(value: str | None) -> None:
    assert retry_after_seconds(value) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=3.0, rng=random.Random(7))
    for attempt in range(8):
        ceiling = min(3.0, 0.5 * 2 ** attempt)
        draws = [policy.backoff(attempt) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in draws)
        assert len(set(draws)) > 1  # jitter, not a fixed ladder


# --------------------------------------------------------------------------- a scripted server
class Scripted:
    """Each path answers from a script of steps (the last one repeats); counts every hit.

    A step is a status, a (status, headers) pair, or "drop": a response whose connection is
    closed halfway through its body.
    """

    def __init__(self) -> None:
        self.scripts: dict[str, list[Any]] = {}
        self.hits: Counter[str] = Counter()

    def script(self, path: str, *steps: Any) -> str:
        self.scripts[path] = list(steps)
        return path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        self.hits[path] += 1
        steps = self.scripts.get(path, [200])
        step = steps[min(self.hits[path], len(steps)) - 1]
        if step == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"half":', "more_body": True})
            raise ConnectionAbortedError("dropped on purpose")
        status, headers = step if isinstance(step, tuple) else (step, {})
        await send_json(send, status, json.dumps({"status": status}).encode(),
                        b"application/json",
                        [(k.lower().encode(), str(v).encode()) for k, v in headers.items()])


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[Scripted, str]]:
    app = Scripted()
    with serve_asgi(app) as url:
        yield app, url


class NoWait(RetryPolicy):
    """Backoff of zero: the tests never sleep unless a Retry-After tells them to."""

    def backoff(self, attempt: int) -> float:
        return 0.0


class Glacial(RetryPolicy):
    """Backoff far beyond the time budget: only a Retry-After hint can make a retry happen."""

    def backoff(self, attempt: int) -> float:
        return 10_000.0


def client(policy: RetryPolicy | None = None) -> httpx.AsyncClient:
    return http.async_client(policy=policy or NoWait(max_attempts=5))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


RA0 = {"Retry-After": "0"}


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_throttling_and_gateway_errors(scripted: tuple[Scripted, str],
                                                        status: int) -> None:
    app, url = scripted
    path = app.script(f"/get-{status}", (status, RA0), (status, RA0), 200)

    async def go() -> httpx.Response:
        async with client() as c:
            return await c.get(url + path)

    assert run(go()).status_code == 200
    assert app.hits[path] == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500, 501])
def test_other_statuses_are_not_retried(scripted: tuple[Scripted, str], status: int) -> None:
    app, url = scripted
    path = app.script(f"/final-{status}", (status, RA0), 200)

    async def go() -> httpx.Response:
        async with client() as c:
            return await c.get(url + path)

    assert run(go()).status_code == status
    assert app.hits[path] == 1


def test_attempts_are_bounded(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    path = app.script("/always-503", (503, RA0))
    heard: list[object] = []

    async def go() -> httpx.Response:
        async with client(NoWait(max_attempts=4)) as c:
            c._transport.listeners.append(heard.append)  # type: ignore[attr-defined]
            return await c.get(url + path)

    response = run(go())
    assert response.status_code == 503  # the last answer, handed back as it is
    assert app.hits[path] == 4
    assert heard == [503, 503, 503]


def test_retry_after_is_honoured(scripted: tuple[Scripted, str]) -> None:
    """With a backoff far beyond the budget, only the server's hint can allow a retry."""
    app, url = scripted
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    cases = {
        "/hint-zero": ({"Retry-After": "0"}, 2),
        "/hint-past-date": ({"Retry-After": past}, 2),
        "/hint-none": ({}, 1),  # backoff alone would wait 10,000 s: over the total time budget
        "/hint-hour": ({"Retry-After": "3600"}, 1),
        "/hint-future-date": ({"Retry-After": future}, 1),
    }

    async def go(path: str) -> httpx.Response:
        async with client(Glacial(max_attempts=5, max_total_seconds=30)) as c:
            return await c.get(url + path)

    for path, (headers, hits) in cases.items():
        app.script(path, (503, headers), 200)
        response = run(go(path))
        assert app.hits[path] == hits, path
        assert response.status_code == (200 if hits == 2 else 503), path


def test_post_is_not_retried_on_503_but_is_on_429(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    on_503 = app.script("/post-503", (503, RA0), 200)
    on_429 = app.script("/post-429", (429, RA0), 200)
    patch_503 = app.script("/patch-503", (503, RA0), 200)
    marked = app.script("/post-marked-503", (503, RA0), 200)

    async def go() -> list[int]:
        async with client() as c:
            statuses = [(await c.post(url + on_503, json={})).status_code,
                        (await c.post(url + on_429, json={})).status_code,
                        (await c.patch(url + patch_503, json={})).status_code]
            # A POST marked safe to repeat (a token request) is retried like a GET.
            request = c.build_request("POST", url + marked, data={"grant_type": "x"},
                                      extensions={http.IDEMPOTENT_EXTENSION: True})
            statuses.append((await c.send(request)).status_code)
            return statuses

    assert run(go()) == [503, 200, 503, 200]
    assert (app.hits[on_503], app.hits[on_429], app.hits[patch_503], app.hits[marked]) == \
        (1, 2, 1, 2)


def test_connection_refused_is_retried_then_raised() -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    heard: list[object] = []

    async def go(method: str) -> None:
        async with client(NoWait(max_attempts=3)) as c:
            c._transport.listeners.append(heard.append)  # type: ignore[attr-defined]
            await c.request(method, url)

    for method in ("GET", "POST"):  # a connection never made cannot have acted: POST too
        heard.clear()
        with pytest.raises(httpx.ConnectError):
            run(go(method))
        assert heard == ["ConnectError", "ConnectError"]


def test_connection_dropped_mid_response_is_retried(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    get_path = app.script("/get-drop", "drop", "drop", 200)
    post_path = app.script("/post-drop", "drop", 200)

    async def go(method: str, path: str) -> httpx.Response:
        async with client() as c:
            return await c.request(method, url + path)

    response = run(go("GET", get_path))
    assert response.status_code == 200 and response.json() == {"status": 200}
    assert app.hits[get_path] == 3
    # A POST whose answer broke off may have acted: it is not sent again.
    with pytest.raises(httpx.TransportError):
        run(go("POST", post_path))
    assert app.hits[post_path] == 1


def test_sync_client_has_the_same_policy(scripted: tuple[Scripted, str]) -> None:
    app, url = scripted
    flaky = app.script("/sync-flaky", (429, RA0), (503, RA0), "drop", 200)
    post = app.script("/sync-post-503", (503, RA0), 200)
    with http.client(policy=NoWait(max_attempts=5)) as c:
        assert c.get(url + flaky).status_code == 200
        assert c.post(url + post, json={}).status_code == 503
    assert app.hits[flaky] == 4 and app.hits[post] == 1


def test_the_user_agent_names_the_installed_version(scripted: tuple[Scripted, str]) -> None:
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    import opskit

    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.headers["User-Agent"])

    app, url = scripted
    with http.client() as c:
        c.event_hooks["request"].append(record)
        assert c.get(url + app.script("/ua", 200)).status_code == 200
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert opskit.__version__ == version("opskit") == pyproject["project"]["version"]
    assert seen == [f"opskit/{opskit.__version__} (+https://github.com/opskit)"]


def test_total_time_is_bounded(scripted: tuple[Scripted, str]) -> None:
    """A hint that would overrun the total budget ends the retries at once."""
    app, url = scripted
    path = app.script("/slow-hint", (429, {"Retry-After": "2"}), 200)
    with http.client(policy=NoWait(max_attempts=10, max_total_seconds=1)) as c:
        assert c.get(url + path).status_code == 429
    assert app.hits[path] == 1


# --------------------------------------------------------------------------- redaction
def test_redact_masks_remembered_values_and_credential_shapes() -> None:
    remember("hunter2-long-secret")
    remember("abc")  # too short to mask safely: left alone
    text = redact("password is hunter2-long-secret; abc stays")
    assert "hunter2-long-secret" not in text and MASK in text and "abc stays" in text
    assert redact("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln") == \
        f"Authorization: Bearer {MASK}"
    assert redact("authorization=Basic dXNlcjpwYXNz") == f"authorization=Basic {MASK}"
    assert "s3cret" not in redact("grant_type=client_credentials&client_secret=s3cret&scope=x")
    assert "tok123456" not in redact('{"access_token": "tok123456", "token_type": "Bearer"}')
    shared = redact("GET https://svc:pw-77@exports.acme.com/g.csv?sig=AbC&X-Amz-Signature=f0&a=1")
    assert "pw-77" not in shared and "AbC" not in shared and "f0" not in shared
    assert shared.endswith("&a=1") and "exports.acme.com/g.csv" in shared
    assert redact("https://exports.acme.com/g.csv?keys=2") == "https://exports.acme.com/g.csv?keys=2"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(caplog.handler.format(record))
    return "\n".join(lines)


def token_catcher(tokens: set[str]) -> Any:
    async def hook(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/xpmplatform"):
            await response.aread()
            token = response.json().get("access_token")
            if token:
                tokens.add(token)
    return hook


def test_no_secret_or_token_in_logs_or_errors(debug_logs: pytest.LogCaptureFixture) -> None:
    """A busy run (throttling, retries, expired tokens, refused calls) leaks nothing."""
    tokens: set[str] = set()
    errors: list[BaseException] = []

    async def go(sb: RunningSandbox) -> None:
        prof = cloud_profile(sb)
        auth = ClientCredentialsAuth.from_profile(prof)
        c = http.async_client(auth=auth, policy=NoWait(max_attempts=8))
        c.event_hooks["response"].append(token_catcher(tokens))
        async with ScimClient(prof.base_url, c, flavor="cloud", page_size=2) as scim:
            assert len(await scim.list("Users")) == 4
            httpx.post(sb.url + "/_sandbox/expire-tokens")
            assert len(await scim.list("Groups")) == 4
            for call in (scim.get("Users", "no-such-user"),
                         scim.request("GET", "Users", params={"filter": 'userName sw "a"'})):
                try:
                    await call
                except OpskitError as exc:
                    errors.append(exc)
        wrong = ClientCredentialsAuth(prof.token_url, prof.client_id,
                                      SecretRef.practice(PRACTICE_SECRET + "-wrong", "x"))
        async with http.async_client(auth=wrong, policy=NoWait()) as c2:
            try:
                await c2.get(prof.base_url + "/Users")
            except AuthError as exc:
                errors.append(exc)
        async with ScimClient(sb.onprem_url, http.async_client(
                auth=StaticTokenAuth(SecretRef.practice("wrong-onprem-token", "t")))) as bad:
            try:
                await bad.list("Users")
            except ScimError as exc:
                errors.append(exc)

    with running(SMALL, faults="429=0.3,503=0.1,seed=5,retry_after=0") as sb:
        run(go(sb))
        diagnosis = diagnose_token(cloud_profile(sb))
    assert diagnosis.ok
    assert len(tokens) >= 2  # one before and one after the tokens were expired
    assert [type(e).__name__ for e in errors] == ["ScimNotFound", "ScimInvalidFilter",
                                                  "AuthError", "ScimUnauthorized"]
    logged = everything_logged(debug_logs)
    assert "retrying" in logged  # the run did hit the retry path
    shown = [logged, json.dumps(diagnosis.as_dict(), default=str), repr(diagnosis)]
    shown += [str(e) for e in errors] + [repr(e) for e in errors]
    shown += [str(getattr(e, "diagnosis", "")) for e in errors]
    for text in shown:
        assert PRACTICE_SECRET not in text
        assert "wrong-onprem-token" not in text
        assert "practice-onprem-token" not in text
        for token in tokens:
            assert token not in text


class Echo:
    """A hostile server that quotes back whatever credentials it was sent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if scope["path"].endswith("/token"):
            answer = {"error": "invalid_client",
                      "error_description": f"bad form {body.decode()} with "
                                           f"authorization: {headers.get('authorization')}"}
            await send_json(send, 401, json.dumps(answer).encode(), b"application/json")
        else:
            answer = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                      "status": "400", "detail": f"you sent Authorization: "
                                                 f"{headers.get('authorization')}"}
            await send_json(send, 400, json.dumps(answer).encode())


def test_credentials_echoed_by_a_server_are_masked(debug_logs: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "echo-me-if-you-dare-42"
    static = "static-token-echoed-77"
    monkeypatch.setenv("OPSKIT_ECHO_SECRET", secret)
    with serve_asgi(Echo()) as url:
        auth = ClientCredentialsAuth(url + "/token", "svc@acme.com",
                                     SecretRef("env:OPSKIT_ECHO_SECRET"))
        with http.client(auth=auth) as c, pytest.raises(AuthError) as auth_error:
            c.get(url + "/scim/v2/Users")
        basic = ClientCredentialsAuth(url + "/token", "svc@acme.com",
                                      SecretRef("env:OPSKIT_ECHO_SECRET"), client_auth="basic")
        with http.client(auth=basic) as c, pytest.raises(AuthError) as basic_error:
            c.get(url + "/scim/v2/Users")
        monkeypatch.setenv("OPSKIT_ECHO_TOKEN", static)

        async def scim_call() -> None:
            auth = StaticTokenAuth(SecretRef("env:OPSKIT_ECHO_TOKEN"))
            async with ScimClient(url + "/scim/v2", http.async_client(auth=auth)) as scim:
                await scim.get("Users", "1")

        with pytest.raises(ScimError) as scim_error:
            run(scim_call())
    assert auth_error.value.diagnosis.cause == "invalid_client"
    assert scim_error.value.status == 400 and "you sent Authorization" in str(scim_error.value)
    shown = [everything_logged(debug_logs)]
    for info in (auth_error, basic_error, scim_error):
        e = info.value
        shown += [str(e), repr(e), str(getattr(e, "detail", "")), str(e.args)]
        if isinstance(e, AuthError):
            shown.append(json.dumps(e.diagnosis.as_dict(), default=str))
    for text in shown:
        assert secret not in text and static not in text
