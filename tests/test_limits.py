"""The profile's limits: how they are written, and the transport holding every answer to them
(over real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opskit import http
from opskit.auth import diagnose_token
from opskit.config import CloudProfile, SecretRef, load_profiles
from opskit.errors import ConfigError, LimitExceeded, ProtocolError
from opskit.limits import DEFAULT, Limits

from .hostile import Hostile
from .servers import Receive, Scope, Send, serve_asgi

BODY = json.dumps({"items": list(range(2000))}).encode()


def _profiles(tmp_path: Path, limits: str) -> dict[str, object]:
    path = tmp_path / "opskit.toml"
    path.write_text('[profiles.p]\nkind = "onprem"\nbase_url = "https://ss.example/v2"\n'
                    f'token = "env:X"\n\n[profiles.p.limits]\n{limits}\n')
    return load_profiles(path)  # type: ignore[return-value]


def test_limits_default_and_any_of_them_set_per_profile(tmp_path: Path) -> None:
    assert load_profiles()["sandbox"].limits == DEFAULT == Limits()
    prof = _profiles(tmp_path, "request_timeout = 5\nmax_body_mb = 0.5\n"
                               "max_total_results = 1000")["p"]
    assert prof.limits == Limits(request_timeout=5.0, max_body_mb=0.5,  # type: ignore[attr-defined]
                                 max_total_results=1000)
    assert prof.limits.max_body_bytes == 512 * 1024  # type: ignore[attr-defined]
    quick = prof.limits.first_contact()  # type: ignore[attr-defined]
    assert (quick.max_attempts, quick.retry_budget, quick.request_timeout) == (3, 30.0, 5.0)


@pytest.mark.parametrize(("limits", "said"), [
    ("request_timeout = 0", "request_timeout is 0"),
    ("retry_budget = -5", "retry_budget is -5"),
    ("listing_timeout = nan", "listing_timeout is nan"),
    ("connect_timeout = inf", "connect_timeout is inf"),
    ("max_attempts = 2.5", "max_attempts is 2.5"),
    ("max_total_results = true", "max_total_results is True"),
    ('max_body_mb = "64"', "max_body_mb is '64'"),
    ("request_timout = 5", "unknown key(s) request_timout"),
])
def test_a_wrong_limit_is_one_clear_message(tmp_path: Path, limits: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _profiles(tmp_path, limits)
    assert f"profiles.p.limits{'.' if 'unknown' not in said else ': '}{said}" in str(caught.value)
    assert "docs/profiles.md#limits" in str(caught.value) or "above 0" in str(caught.value)


class Encoded:
    """Answers BODY as /gzip, /deflate (zlib-wrapped), /raw-deflate, or /corrupt gzip."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        encoding, body = {
            "/gzip": ("gzip", gzip.compress(BODY)),
            "/deflate": ("deflate", zlib.compress(BODY)),
            "/raw-deflate": ("deflate", zlib.compress(BODY, wbits=-15)),
            "/corrupt": ("gzip", gzip.compress(BODY)[:20] + b"\xff" * 40),
            "/declared-large": ("identity", b"x" * (3 << 20)),
        }[scope["path"]]
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-encoding", encoding.encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def encoded() -> Iterator[str]:
    with serve_asgi(Encoded()) as url:
        yield url


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/raw-deflate"])
def test_compressed_answers_read_as_httpx_would(encoded: str, path: str) -> None:
    with http.client() as c:
        response = c.get(encoded + path)
    assert response.content == BODY and response.json()["items"][-1] == 1999

    async def go() -> bytes:
        async with http.async_client() as c:
            return (await c.get(encoded + path)).content

    assert asyncio.run(go()) == BODY


def test_a_corrupt_or_oversized_body_is_refused_not_retried(encoded: str) -> None:
    with http.client() as c, pytest.raises(ProtocolError) as corrupt:
        c.get(encoded + "/corrupt")
    assert "compressed body that cannot be read" in str(corrupt.value)
    small = Limits(max_body_mb=1)
    with http.client(limits=small) as c, pytest.raises(LimitExceeded) as large:
        c.get(encoded + "/declared-large")
    assert "more than 1 MB (limits.max_body_mb)" in str(large.value)


@pytest.mark.parametrize(("path", "said"), [
    ("/corrupt", "compressed body that cannot be read"),
    ("/declared-large", "more than 1 MB (limits.max_body_mb)")])
def test_a_token_endpoint_past_a_limit_is_a_diagnosis_not_an_exception(
        encoded: str, path: str, said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSKIT_LIMITS_SECRET", "limits-test-secret")
    prof = CloudProfile("p", base_url=encoded + "/scim/v2",
                        token_url=encoded + path, client_id="svc@example.com",
                        client_secret=SecretRef("env:OPSKIT_LIMITS_SECRET"),
                        limits=Limits(max_body_mb=1))
    diagnosis = diagnose_token(prof)
    assert not diagnosis.ok and diagnosis.cause == "unexpected"
    assert said in diagnosis.detail


@pytest.mark.parametrize("mode", ["gzip-bomb", "dribble", "silent"])
def test_the_blocking_client_is_held_to_the_same_limits(mode: str) -> None:
    app = Hostile(mode, drip_seconds=0.05, bomb_bytes=64 << 20)
    limits = Limits(request_timeout=0.4, retry_budget=1.0, max_body_mb=4)
    with serve_asgi(app) as url, http.client(limits=limits) as c:
        if mode == "gzip-bomb":
            with pytest.raises(LimitExceeded):
                c.get(url + "/v2/Users")
            assert app.requests == 1  # the same answer would come again: not retried
        else:
            with pytest.raises(http.AttemptTimeout) as caught:
                c.get(url + "/v2/Users")
            # Attempts of 0.4 s within a budget of 1 s: three at the most, the last one
            # given what was left.
            assert 2 <= app.requests <= 3
            assert "no complete answer within" in str(caught.value)


def test_a_request_never_outlasts_its_retry_budget_even_with_a_long_hint() -> None:
    app = Hostile("silent")
    limits = Limits(request_timeout=10, retry_budget=0.5)

    async def go() -> None:
        async with http.async_client(limits=limits) as c:
            await c.get(url + "/v2/Users")

    with serve_asgi(app) as url, pytest.raises(httpx.ReadTimeout) as caught:
        asyncio.run(go())
    assert "what was left of limits.retry_budget" in str(caught.value)
    assert app.requests == 1
