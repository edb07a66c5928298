"""The SCIM client's blocking face over real HTTP: the practice tenant, and a front on
127.0.0.1 that answers 429 or 503 before letting requests through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from opskit.config import Profile
from opskit.errors import (
    ConfigError,
    ScimConflict,
    ScimError,
    ScimInvalidFilter,
    ScimNotFound,
    ScimNotOwner,
    ScimRateLimited,
    ScimServerError,
    TransportError,
)
from opskit.http import RetryPolicy
from opskit.sandbox.app import PREFIX
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import load_tenant
from opskit.scim import ScimClient, SyncScimClient, urns

from .conftest import SMALL
from .servers import (
    Receive,
    Scope,
    Send,
    closed_port,
    cloud_profile,
    onprem_profile,
    send_json,
    serve_asgi,
)

QUICK = RetryPolicy(max_attempts=3, backoff_base=0.001)
ONCE = RetryPolicy(max_attempts=1)


@pytest.fixture(scope="module")
def tenant() -> Iterator[RunningSandbox]:
    """One practice tenant for the module: nothing here changes it."""
    with running(load_tenant(SMALL)) as sb:
        yield sb


def profile(sb: RunningSandbox, flavor: str, **overrides: Any) -> Profile:
    return cloud_profile(sb, **overrides) if flavor == "cloud" else onprem_profile(sb)


def ids(resources: list[dict[str, Any]]) -> list[str]:
    return sorted(str(r["id"]) for r in resources)


# --------------------------------------------------------------------------- paging
@pytest.mark.parametrize("flavor", ["cloud", "onprem"])
def test_pages_read_one_at_a_time_make_what_the_async_face_lists(tenant: RunningSandbox,
                                                                 flavor: str) -> None:
    endpoints = ("Users", "Groups", "Containers", "PrivilegedData")
    prof = profile(tenant, flavor)

    async def listed() -> dict[str, list[str]]:
        async with ScimClient.for_profile(prof) as c:
            return {e: ids(await c.list(e)) for e in endpoints}

    expected = asyncio.run(listed())
    with SyncScimClient.for_profile(prof, policy=QUICK) as scim:
        for endpoint, want in expected.items():
            assert scim.total(endpoint) == len(want), endpoint
            for size in (1, 2):
                read: list[dict[str, Any]] = []
                start = 1
                while True:
                    total, page = scim.page(endpoint, start=start, count=size)
                    assert total == len(want) and len(page) <= size
                    if not page:
                        break
                    read += page
                    start += len(page)
                assert ids(read) == want, (endpoint, size)


def test_a_page_sends_only_what_it_is_given(tenant: RunningSandbox) -> None:
    with SyncScimClient.for_profile(profile(tenant, "cloud"), policy=QUICK) as scim:
        total, [bob] = scim.page("Users", filter='userName eq "bob@acme.com"',
                                 attributes=["userName"])
        assert total == 1 and bob["userName"] == "bob@acme.com" and "displayName" not in bob
        assert scim.get("Users", bob["id"], attributes=["userName"]) == bob


# --------------------------------------------------------------------------- typed errors
def both_faces(prof: Profile, ask: Callable[[Any], Any], policy: RetryPolicy = QUICK,
               ) -> tuple[BaseException, BaseException]:
    """The error each face raises for the same request: (blocking, async)."""
    with SyncScimClient.for_profile(prof, policy=policy) as scim, \
            pytest.raises(Exception) as blocking:
        ask(scim)

    async def go() -> None:
        async with ScimClient.for_profile(prof, policy=policy) as c:
            answer = ask(c)
            assert isinstance(answer, Awaitable)
            await answer

    with pytest.raises(Exception) as awaited:
        asyncio.run(go())
    return blocking.value, awaited.value


@pytest.mark.parametrize(("expected", "ask"), [
    (ScimNotFound, lambda c: c.get("Users", "no-such-user")),
    (ScimNotOwner, lambda c: c.get("Containers", "f4")),  # a folder it does not own
    (ScimInvalidFilter, lambda c: c.request("GET", "Users", params={
        "filter": 'userName sw "a"'})),
    (ScimConflict, lambda c: c.create("Users", {"schemas": [urns.USER],
                                                "userName": "bob@acme.com"})),
], ids=["404", "403-owner", "invalid-filter", "409"])
def test_an_error_answer_is_the_same_typed_error_on_both_faces(
        tenant: RunningSandbox, expected: type[ScimError], ask: Callable[[Any], Any]) -> None:
    blocking, awaited = both_faces(profile(tenant, "cloud"), ask)
    assert type(blocking) is type(awaited) is expected
    assert str(blocking) == str(awaited)
    assert isinstance(blocking, ScimError) and isinstance(awaited, ScimError)
    assert (blocking.status, blocking.scim_type, blocking.url) == \
        (awaited.status, awaited.scim_type, awaited.url)


def test_an_unreachable_server_is_the_same_transport_error_on_both_faces(
        tenant: RunningSandbox) -> None:
    prof = replace(onprem_profile(tenant), base_url=f"http://127.0.0.1:{closed_port()}/v2")
    blocking, awaited = both_faces(prof, lambda c: c.get("Users", "1"), ONCE)
    assert type(blocking) is type(awaited) is TransportError
    assert str(blocking) == str(awaited)
    assert isinstance(blocking, TransportError)
    assert blocking.detail.startswith("connection refused") and blocking.detail in str(blocking)


def test_the_client_is_opened_on_first_use(tenant: RunningSandbox) -> None:
    """Building it reads no credential: a runbook that stops before its SCIM checks never
    meets a missing token; the first request does."""
    scim = SyncScimClient.for_profile(replace(onprem_profile(tenant), token=None))
    with pytest.raises(ConfigError, match="has no token"):
        scim.total("Users")
    scim.close()
    with pytest.raises(ConfigError, match="no SCIM base URL"):
        SyncScimClient.for_profile(replace(cloud_profile(tenant), base_url=""))


# --------------------------------------------------------------------------- retries
class Refusing:
    """The practice tenant behind a front that answers ``status`` (Retry-After: 0) to the
    first ``times`` requests, then lets every request through; counts what it saw."""

    def __init__(self, app: Callable[..., Awaitable[None]], status: int, times: int) -> None:
        self.app, self.status, self.times = app, status, times
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append(scope["method"])
        if len(self.seen) <= self.times:
            body = json.dumps({"schemas": [urns.ERROR], "status": str(self.status),
                               "detail": "not now"}).encode()
            await send_json(send, self.status, body, headers=[(b"retry-after", b"0")])
            return
        await self.app(scope, receive, send)


def through(tenant: RunningSandbox, front: Refusing, policy: RetryPolicy,
            ask: Callable[[SyncScimClient], Any]) -> Any:
    with serve_asgi(front) as url:
        prof = replace(onprem_profile(tenant), base_url=url + PREFIX["onprem"])
        with SyncScimClient.for_profile(prof, policy=policy) as scim:
            return ask(scim)


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_outages_are_retried_as_the_policy_allows(tenant: RunningSandbox,
                                                                 status: int) -> None:
    front = Refusing(tenant.sandbox.app, status, times=2)
    assert through(tenant, front, QUICK, lambda s: s.total("Users")) == 3  # the third got in
    assert front.seen == ["GET"] * 3


@pytest.mark.parametrize(("status", "error"), [(429, ScimRateLimited), (503, ScimServerError)])
def test_a_policy_of_one_attempt_is_one_request(tenant: RunningSandbox, status: int,
                                                error: type[ScimError]) -> None:
    front = Refusing(tenant.sandbox.app, status, times=1)
    with pytest.raises(error) as failed:
        through(tenant, front, ONCE, lambda s: s.total("Users"))
    assert failed.value.status == status and front.seen == ["GET"]


def test_a_create_is_retried_on_429_but_not_on_503(tenant: RunningSandbox) -> None:
    """A 503 may come after the server acted: a POST is not sent twice. A 429 never does."""
    group = {"schemas": [urns.GROUP], "displayName": "opskit sync-face probe"}
    front = Refusing(tenant.sandbox.app, 503, times=1)
    with pytest.raises(ScimServerError):
        through(tenant, front, QUICK, lambda s: s.create("Groups", group))
    assert front.seen == ["POST"]
    front = Refusing(tenant.sandbox.app, 429, times=1)
    created = through(tenant, front, QUICK, lambda s: s.create("Groups", group))
    assert created["displayName"] == group["displayName"] and front.seen == ["POST"] * 2
    with SyncScimClient.for_profile(onprem_profile(tenant), policy=QUICK) as scim:
        scim.delete("Groups", created["id"])  # the module's tenant as it was
        with pytest.raises(ScimNotFound):
            scim.get("Groups", created["id"])
