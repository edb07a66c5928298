"""The async SCIM client: CRUD, concurrent paging, typed errors, filters, leniency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from opskit import http
from opskit.errors import (
    ConfigError,
    ConnectorDisabled,
    NotScimResponse,
    ScimAccessDenied,
    ScimConflict,
    ScimError,
    ScimInvalidFilter,
    ScimNotFound,
    ScimNotOwner,
    ScimServerError,
    ScimTooMany,
    ScimUnauthorized,
)
from opskit.sandbox import demodata
from opskit.sandbox.serve import RunningSandbox, running
from opskit.sandbox.tenantfile import TenantFile, parse_tenant
from opskit.scim import AdaptiveLimiter, ScimClient, ScimList, filters, urns
from opskit.scim._pacing import LoadPacer

from .servers import (
    ListServer,
    Receive,
    ScimProxy,
    Scope,
    Send,
    cloud_profile,
    onprem_profile,
    send_json,
    serve_asgi,
)

USER = urns.USER


pytestmark = pytest.mark.slow  # paced listings that wait on a slow server


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def client_for(sb: RunningSandbox, flavor: str, **kwargs: Any) -> ScimClient:
    prof = cloud_profile(sb) if flavor == "cloud" else onprem_profile(sb)
    return ScimClient.for_profile(prof, **kwargs)


def plain_client(base_url: str, **kwargs: Any) -> ScimClient:
    policy = http.RetryPolicy(max_attempts=3, backoff_base=0.001)
    return ScimClient(base_url, http.async_client(policy=policy), **kwargs)


def ids(resources: list[dict[str, Any]]) -> list[str]:
    return sorted(str(r["id"]) for r in resources)


# --------------------------------------------------------------------------- CRUD
@pytest.mark.parametrize("flavor", ["cloud", "onprem"])
def test_crud_round_trip(sandbox: RunningSandbox, flavor: str) -> None:
    async def go() -> None:
        async with client_for(sandbox, flavor) as c:
            created = await c.create("Users", {
                "schemas": [USER], "userName": "dana@acme.com", "displayName": "Dana",
                "active": True, "meta": {"created": "1999-01-01T00:00:00Z"}})
            rid = created["id"]
            assert created["meta"]["created"] != "1999-01-01T00:00:00Z"  # server-made meta
            got = await c.get("Users", rid, attributes=["userName"])
            assert got["userName"] == "dana@acme.com" and "displayName" not in got
            replaced = await c.replace("Users", rid, {**created, "displayName": "Dana R"})
            assert replaced["displayName"] == "Dana R"
            patched = await c.patch("Users", rid, [
                {"op": "replace", "path": "displayName", "value": "Dana P"}])
            assert patched is None or patched["displayName"] == "Dana P"
            assert (await c.get("Users", rid))["displayName"] == "Dana P"
            found = await c.list("Users", filters.eq("userName", "dana@acme.com"))
            assert ids(found) == [rid]
            await c.delete("Users", rid)
            with pytest.raises(ScimNotFound):
                await c.get("Users", rid)
        if flavor == "onprem":  # the on-prem connector disables (and then hides) the user
            async with client_for(sandbox, "cloud") as cloud:
                assert (await cloud.get("Users", rid))["active"] is False

    run(go())


# --------------------------------------------------------------------------- listing
@pytest.mark.parametrize("flavor", ["cloud", "onprem"])
def test_paged_listing_equals_one_page(sandbox: RunningSandbox, flavor: str) -> None:
    async def go() -> None:
        async with client_for(sandbox, flavor) as whole:
            expected = {e: ids(await whole.list(e)) for e in
                        ("Users", "Groups", "Containers", "ContainerPermissions",
                         "PrivilegedData")}
        for size in (1, 2, 3):
            async with client_for(sandbox, flavor, page_size=size) as c:
                for endpoint, want in expected.items():
                    got = await c.list(endpoint)
                    assert ids(got) == want, (endpoint, size)
                    assert got.complete and got.total == len(want) and not got.notes
                    assert got.pages == max(1, -(-len(want) // size))

    run(go())


@pytest.fixture
def list_server() -> Iterator[Callable[..., tuple[ListServer, str]]]:
    stack: list[Any] = []

    def start(n: int, **kwargs: Any) -> tuple[ListServer, str]:
        app = ListServer(n, **kwargs)
        cm = serve_asgi(app)
        url = cm.__enter__()
        stack.append(cm)
        return app, url + "/v2"

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def test_first_page_alone_then_the_rest_concurrently(list_server: Any) -> None:
    app, url = list_server(40, delay=0.05)

    async def go() -> ScimList:
        async with plain_client(url, page_size=5, concurrency=8) as c:
            return await c.list("Users")

    got = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 41)) and got.complete
    first = [entry for entry in app.log if entry[0] == 1]
    others = [entry for entry in app.log if entry[0] != 1]
    assert len(first) == 1 and len(others) == 7
    assert all(started >= first[0][2] for _, started, _ in others)  # page 1 finished first
    assert app.max_in_flight > 1  # the rest overlapped


def test_overlapping_pages_are_deduplicated(list_server: Any) -> None:
    _app, url = list_server(12, overlap=True)

    async def go() -> ScimList:
        async with plain_client(url, page_size=4) as c:
            return await c.list("Users")

    got = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 13))
    assert len(got) == 12 and got.complete


def test_overlapping_pages_per_page_keep_each_resource_once(list_server: Any) -> None:
    """per_page: one object per page, in order, and masks that drop what pages repeated."""
    _app, url = list_server(12, overlap=True)

    async def go() -> ScimList:
        async with plain_client(url, page_size=4) as c:
            return await c.list("Users", per_page=lambda rs: [str(r["id"]) for r in rs])

    got = run(go())
    assert got.keep is not None and len(got.keep) == len(got)
    kept = [rid for page, mask in zip(got, got.keep, strict=True)
            for rid, k in zip(page, mask, strict=True) if k]
    assert kept == [str(i) for i in range(1, 13)] and got.resources_read == 12 and got.complete


def test_a_first_page_larger_than_allowed_is_asked_again_at_the_advertised_size(
        list_server: Any) -> None:
    """The first page goes out before ServiceProviderConfig answers, at opskit's largest
    count; a server that refuses that gets the size it advertises (here none: 100)."""
    app, url = list_server(250, refuse_above=100)

    async def go() -> ScimList:
        async with plain_client(url) as c:
            return await c.list("Users")

    got = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 251)) and got.complete
    assert app.counts[:2] == [1000, 100] and max(app.counts[1:]) == 100


def test_throttling_halves_the_concurrency(list_server: Any) -> None:
    app, url = list_server(60, delay=0.05, throttle_above=4)
    patient = http.async_client(policy=http.RetryPolicy(max_attempts=10, backoff_base=0.02))

    async def go() -> tuple[ScimList, int, int]:
        async with ScimClient(url, patient, page_size=5, concurrency=8) as c:
            got = await c.list("Users")
            return got, c.limiter.throttles, c.limiter.lowest

    got, throttles, lowest = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 61)) and got.complete
    assert app.throttled and throttles and lowest <= 4  # halved from 8 at least once


def _paced(round_trips: list[float], work: list[float],
           limiter: AdaptiveLimiter | None = None) -> tuple[AdaptiveLimiter, list[float]]:
    """A limiter (by default at 3) after a LoadPacer heard answers that took `round_trips`
    seconds and cost `work` CPU seconds each."""
    cpu = 0.0
    limiter = limiter or AdaptiveLimiter(3)
    pacer = LoadPacer(limiter, cpu=lambda: cpu)
    for seconds, cost in zip(round_trips, work, strict=True):
        cpu += cost
        pacer.observe(seconds)
    return limiter, pacer.work


def test_the_pacer_moves_the_concurrency_only_when_far_off() -> None:
    # Little's law at half load: 0.5 × 50 ms ÷ 5 ms = 5 in flight, not twice the 3 in use:
    # kept (a small step does not repay the uneven round it costs).
    assert _paced([0.050] * 60, [0.005] * 60)[0].maximum == 3
    # A slow link (400 ms): 40, capped at 16; 152 ms: 15, from the first measurements on.
    assert _paced([0.400] * 60, [0.005] * 60)[0].maximum == 16
    assert _paced([0.152] * 14, [0.005] * 14)[0].maximum == 15
    # The quickest round trip is the latency; slower ones include queueing and do not count.
    assert _paced([0.152, 3.0] * 30, [0.005] * 60)[0].maximum == 15
    # A slower client (20 ms an answer) on the same link: 3.
    assert _paced([0.152] * 60, [0.020] * 60)[0].maximum == 3


def test_the_pacer_comes_back_down_when_the_client_slows() -> None:
    # Risen to 16 on a 400 ms link; then answers cost ten times as much (the client has other
    # work, or the pages grew): by the second look 0.5 × 400 ms ÷ 50 ms = 4, a quarter of 16.
    limiter, _ = _paced([0.400] * 60, [0.005] * 14 + [0.050] * 46)
    assert (limiter.maximum, limiter.limit) == (4, 4)
    # Never below 2, however slow.
    limiter, _ = _paced([0.400] * 60, [0.005] * 14 + [5.0] * 46)
    assert (limiter.maximum, limiter.limit) == (2, 2)


def test_listing_pages_feeds_the_pacer_which_keeps_a_given_concurrency(
        list_server: Any) -> None:
    _app, url = list_server(60, delay=0.2)

    async def go(concurrency: int | None) -> tuple[LoadPacer, int]:
        async with plain_client(url, page_size=1, concurrency=concurrency) as c:
            await c.list("Users")
            return c.pacer, c.limiter.maximum

    # 200 ms a page and almost no work: far more than 3 fit (it rises at the first look).
    pacer, ceiling = run(go(None))
    assert pacer.quickest >= 0.2 and len(pacer.work) == 14 and ceiling > 6
    pacer, ceiling = run(go(3))  # given: kept, though the figures are the same
    assert len(pacer.work) == 14 and ceiling == 3


def test_a_one_off_cost_does_not_pass_for_every_answer() -> None:
    # One window holds a listing's frame being built (0.5 s of CPU): the median ignores it.
    work = [0.005] * 60
    work[6] = 0.5
    limiter, measured = _paced([0.152] * 60, work)
    assert limiter.maximum == 15 and max(measured) > 0.1


def test_the_pacer_spreads_page_requests_over_the_round_trip() -> None:
    limiter = AdaptiveLimiter(4)
    pacer = LoadPacer(limiter, clock=lambda: 10.0)  # a burst: every request asks at once
    assert [pacer.send_delay() for _ in range(3)] == [0.0, 0.0, 0.0]  # no round trip known yet
    pacer.observe(0.100)
    # Each waits one step (0.8 × 100 ms ÷ 4 = 20 ms) more than the one before.
    assert [round(pacer.send_delay(), 3) for _ in range(4)] == [0.0, 0.02, 0.04, 0.06]
    limiter.throttled()  # halved to 2: the step after the one already set doubles
    assert [round(pacer.send_delay(), 3) for _ in range(2)] == [0.08, 0.12]


def test_the_pacer_does_not_undo_a_throttle() -> None:
    throttled = AdaptiveLimiter(8)
    throttled.throttled()  # a 429: halved to 4
    limiter, _ = _paced([0.400] * 60, [0.005] * 60, throttled)
    # The ceiling rises, but the limit grows back one step at a time, not at once.
    assert (limiter.maximum, limiter.limit) == (16, 4)


def test_the_limiter_serves_waiters_in_order_and_survives_cancellation() -> None:
    async def go() -> tuple[list[int], int, int]:
        limiter = AdaptiveLimiter(2)
        order: list[int] = []
        peak = 0

        async def worker(i: int) -> None:
            nonlocal peak
            async with limiter:
                order.append(i)
                peak = max(peak, limiter.in_flight)
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(worker(i)) for i in range(8)]
        await asyncio.sleep(0)
        tasks[5].cancel()  # a waiter that gives up must not take a slot with it
        await asyncio.gather(*tasks, return_exceptions=True)
        return order, peak, limiter.in_flight

    order, peak, left = run(go())
    assert order == [0, 1, 2, 3, 4, 6, 7] and peak == 2 and left == 0

    async def both_cancelled() -> tuple[list[BaseException | None], int]:
        """A holder and a waiter cancelled in one step (as a TaskGroup aborting does)."""
        limiter = AdaptiveLimiter(1)

        async def hold() -> None:
            async with limiter:
                await asyncio.sleep(1)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(hold())
        await asyncio.sleep(0)
        holder.cancel()
        waiter.cancel()
        done = await asyncio.gather(holder, waiter, return_exceptions=True)
        return list(done), limiter.in_flight

    done, left = run(both_cancelled())
    assert all(isinstance(d, asyncio.CancelledError) for d in done) and left == 0


def test_short_pages_are_followed_up(list_server: Any) -> None:
    _app, url = list_server(25, cap=3)

    async def go() -> ScimList:
        async with plain_client(url, page_size=10) as c:
            return await c.list("Users")

    got = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 26)) and got.complete


def test_a_server_without_totalresults_is_read_to_the_end(list_server: Any) -> None:
    _app, url = list_server(11, total=False)

    async def go() -> ScimList:
        async with plain_client(url, page_size=4) as c:
            return await c.list("Users")

    got = run(go())
    assert ids(got) == sorted(str(i) for i in range(1, 12)) and got.complete


def test_a_count_that_changes_once_is_read_again(list_server: Any) -> None:
    def grow(request: int, items: list[Any]) -> None:
        if request == 3:  # a user is created while the list is being read
            items.append({"schemas": [USER], "id": "new", "userName": "new@x.org"})

    app, url = list_server(20, grow=grow, delay=0.01)

    async def go() -> ScimList:
        async with plain_client(url, page_size=5, concurrency=2) as c:
            return await c.list("Users")

    got = run(go())
    assert "new" in ids(got) and len(got) == 21
    assert got.complete and got.total == 21
    assert app.requests > 5  # read twice


def test_a_count_that_keeps_changing_is_marked_incomplete(list_server: Any) -> None:
    def grow(request: int, items: list[Any]) -> None:
        items.append({"schemas": [USER], "id": f"new{request}", "userName": f"n{request}@x"})

    _app, url = list_server(10, grow=grow)

    async def go() -> ScimList:
        async with plain_client(url, page_size=4) as c:
            return await c.list("Users")

    got = run(go())
    assert not got.complete
    assert len(got.notes) == 1 and got.notes[0].startswith("Users:")
    assert "totalResults kept changing" in got.notes[0]
    assert len({r["id"] for r in got}) == len(got)  # still no duplicates


def test_lenient_shapes(list_server: Any) -> None:
    """application/json, itemsPerPage echoing count, no Resources when empty, numeric ids."""
    _app, url = list_server(7, lenient=True)

    async def go() -> None:
        async with plain_client(url, page_size=3) as c:
            got = await c.list("Users")
            assert ids(got) == [str(i) for i in range(1, 8)]
            assert all(isinstance(r["id"], str) for r in got)
            assert got.complete and got.total == 7
            none = await c.list("Users", filters.eq("userName", "nobody@x.org"))
            assert list(none) == [] and none.complete and none.total == 0
            one = await c.list("Users", filters.eq("userName", "user5@x.org"))
            assert ids(one) == ["5"]
            assert (await c.get("Users", "5"))["userName"] == "user5@x.org"

    run(go())


def test_progress_is_reported(sandbox: RunningSandbox) -> None:
    seen: list[int] = []

    async def go() -> ScimList:
        async with client_for(sandbox, "onprem", page_size=2) as c:
            return await c.list("Users", on_progress=seen.append)

    got = run(go())
    assert sum(seen) == len(got)


# --------------------------------------------------------------------------- typed errors
def check_error(error: ScimError, status: int, scim_type: str | None = None) -> None:
    assert error.status == status
    assert error.scim_type == scim_type
    assert error.detail
    assert error.remediation and error.remediation in str(error)
    assert str(status) in str(error)


def test_typed_errors(sandbox: RunningSandbox) -> None:
    async def go() -> None:
        async with client_for(sandbox, "cloud") as c:
            with pytest.raises(ScimNotFound) as nf:
                await c.get("Users", "no-such-user")
            check_error(nf.value, 404)
            assert nf.value.method == "GET" and nf.value.url.endswith("/Users/no-such-user")
            with pytest.raises(ScimConflict) as conflict:
                await c.create("Users", {"schemas": [USER],
                                         "userName": "bob@acme.com"})
            check_error(conflict.value, 409, "uniqueness")
            with pytest.raises(ScimInvalidFilter) as bad_filter:
                await c.request("GET", "Users", params={"filter": 'userName sw "a"'})
            check_error(bad_filter.value, 400, "invalidFilter")
            with pytest.raises(ScimAccessDenied) as denied:  # moving a secret it doesn't own
                await c.patch("Containers", "f1", [
                    {"op": "add", "path": "privilegedData", "value": [{"value": "s3"}]}])
            check_error(denied.value, 403)
            assert "Access Denied" in str(denied.value)
            # A folder it does not own: the Owner rule, not the role and not "not found".
            with pytest.raises(ScimNotOwner) as not_owner:
                await c.get("Containers", "f4")
            check_error(not_owner.value, 403)
            assert "not Owner" in not_owner.value.remediation
            with pytest.raises(ScimNotFound) as missing:
                await c.get("Containers", "no-such-folder")
            assert "does not own answers 403" in missing.value.remediation
        async with client_for(sandbox, "onprem") as c:
            ops = [{"method": "DELETE", "path": f"/Users/x{i}"} for i in range(1001)]
            with pytest.raises(ScimTooMany) as too_many:
                await c.request("POST", "Bulk", json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": ops})
            check_error(too_many.value, 413, too_many.value.scim_type)

    run(go())


def test_unauthorized_and_access_denied_keep_their_type(small_tenant: TenantFile) -> None:
    """A refusal while listing is the typed error with its remediation, not 'incomplete'."""
    data = small_tenant.model_dump(by_alias=True, exclude_none=True)
    data["service_account"]["has_scim_role"] = False
    with running(parse_tenant(data, "no-role")) as sb:
        async def go() -> None:
            async with client_for(sb, "cloud") as c:
                with pytest.raises(ScimAccessDenied) as denied:
                    await c.list("Users")
                check_error(denied.value, 403)
                assert "Bypass Direct API" in str(denied.value)
                # A listing or search of an Owner-gated endpoint names no object: the role, not
                # the Owner rule.
                for listing in (c.list("Containers"), c.request(
                        "POST", "Containers/.search", json={"schemas": [
                            "urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})):
                    with pytest.raises(ScimAccessDenied) as denied:
                        await listing
                    assert type(denied.value) is ScimAccessDenied
                    assert "Bypass Direct API" in str(denied.value)
            async with ScimClient(sb.onprem_url, http.async_client(
                    headers={"Authorization": "Bearer wrong"})) as c:
                with pytest.raises(ScimUnauthorized) as unauthorized:
                    await c.list("Groups")
                check_error(unauthorized.value, 401)

        run(go())


def test_a_disabled_connector_is_asked_once_other_503s_are_retried(
        small_tenant: TenantFile) -> None:
    """Only an administrator re-enables a disabled on-prem connector: asking again cannot help.
    A 503 that does not say so is retried as before."""
    data = small_tenant.model_dump(by_alias=True, exclude_none=True)
    data["onprem"]["disabled"] = True
    with running(parse_tenant(data, "disabled")) as sb:
        prefix = sb.onprem_url.removeprefix(sb.url)
        bearer = {"Authorization": f"Bearer {sb.tenant.file.onprem.token}"}

        async def ask(url: str, **params: str) -> None:
            policy = http.RetryPolicy(max_attempts=3, backoff_base=0.001)
            async with ScimClient(url + prefix, http.async_client(
                    policy=policy, headers=bearer)) as c:
                await c.request("GET", "Users", params=params or None)

        counted = ScimProxy(sb.url)
        with serve_asgi(counted) as url, pytest.raises(ConnectorDisabled):
            run(ask(url))
        assert counted.sent == [("GET", prefix + "/Users")]  # one attempt of three
        flaky = ScimProxy(sb.url, fail_filters=503)  # a 503 that names no state
        with serve_asgi(flaky) as url, pytest.raises(ScimServerError) as failed:
            run(ask(url, filter="userName pr"))
        assert type(failed.value) is ScimServerError and flaky.failed == 3


async def not_scim(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers that are not SCIM: login pages, empty bodies, the wrong content type."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    html = b"<!DOCTYPE html><html><body>Please sign in</body></html>"
    if path.startswith("/html-ok"):
        await send_json(send, 200, html, b"text/html; charset=utf-8")
    elif path.startswith("/html-404"):
        await send_json(send, 404, html, b"text/html")
    elif path.startswith("/empty"):
        await send_json(send, 200, b"", b"application/scim+json")
    elif path.startswith("/no-content"):
        await send_json(send, 204, b"", b"application/scim+json")
    elif path.startswith("/text"):
        await send_json(send, 200, b'{"totalResults": 0}', b"text/plain")
    elif path.startswith("/redirect"):
        await send_json(send, 302, b"", b"text/html", [(b"location", b"/login")])
    else:
        await send_json(send, 200, b'{"Resources": [], "totalResults": 0}')


@pytest.fixture(scope="module")
def not_scim_url() -> Iterator[str]:
    with serve_asgi(not_scim) as url:
        yield url


@pytest.mark.parametrize(("base", "words"), [
    ("/html-ok", "HTML"), ("/html-404", "non-SCIM text/html"), ("/empty", "empty body"),
    ("/text", "text/plain"), ("/redirect", "302")])
def test_non_scim_answers(not_scim_url: str, base: str, words: str) -> None:
    async def go() -> None:
        async with plain_client(not_scim_url + base, page_size=10) as c:
            with pytest.raises(NotScimResponse) as info:
                await c.get("Users", "1")
            assert words in str(info.value)
            assert "base URL" in info.value.remediation
            # A listing says the same, rather than "incomplete" or "not found".
            with pytest.raises(NotScimResponse):
                await c.list("Users")

    run(go())


def test_no_content_is_fine_for_delete_and_patch(not_scim_url: str) -> None:
    async def go() -> None:
        async with plain_client(not_scim_url + "/no-content") as c:
            assert await c.delete("Users", "1") is None
            assert await c.patch("Users", "1", [{"op": "remove", "path": "title"}]) is None
            with pytest.raises(NotScimResponse):
                await c.get("Users", "1")

    run(go())


# --------------------------------------------------------------------------- filters
def test_filter_quoting() -> None:
    assert filters.eq("userName", "a@b.com") == 'userName eq "a@b.com"'
    assert filters.eq("userName", 'o"neil') == r'userName eq "o\"neil"'
    assert filters.co("displayName", "back\\slash") == r'displayName co "back\\slash"'
    assert filters.eq("active", True) == "active eq true"
    assert filters.eq("x", None) == "x eq null"
    assert filters.eq("n", 3) == "n eq 3"
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert filters.eq("meta.lastModified", when) == \
        'meta.lastModified eq "2024-01-02T03:04:05+00:00"'
    assert filters.and_(filters.eq("a", 1)) == "a eq 1"
    assert filters.and_(filters.eq("a", 1), "", filters.co("b", "x")) == '(a eq 1) and (b co "x")'
    assert filters.eq(f"{urns.CONTAINER}:name", "IT") == f'{urns.CONTAINER}:name eq "IT"'
    for bad_path in ('userName or userName pr', "", "user name", 'x"'):
        with pytest.raises(ConfigError):
            filters.eq(bad_path, "v")
    with pytest.raises(ConfigError):
        filters.compare("userName", "eq 1 or", "v")
    with pytest.raises(ConfigError):
        filters.parse('userName eq "unterminated')


def test_a_quoted_value_cannot_change_the_filter() -> None:
    hostile = 'x" or userName pr or userName eq "y'
    text = filters.eq("userName", hostile)
    ast = filters.parse(text)
    assert type(ast).__name__ == "Comparison"  # one comparison, not an `or`
    assert ast.value == hostile  # type: ignore[attr-defined]


def test_split_by_capability() -> None:
    assert filters.split(None, True) == (None, None)
    assert filters.split('userName sw "a"', False) == ('userName sw "a"', None)
    assert filters.split('userName eq "a"', True) == ('userName eq "a"', None)
    server, here = filters.split('userName sw "a" and displayName co "n" and active eq true',
                                 True)
    assert server == 'displayName co "n" and active eq true'
    assert here == '(userName sw "a")'
    assert filters.split('userName eq "a" or userName eq "b"', True) == \
        (None, '(userName eq "a" or userName eq "b")')
    # Re-rendered terms keep their escapes.
    server, _ = filters.split(filters.and_(filters.eq("userName", 'a"b'),
                                           filters.co("displayName", "\\")), True)
    assert server == r'userName eq "a\"b" and displayName co "\\"'


def test_hostile_user_names_on_the_practice_tenant(sandbox: RunningSandbox) -> None:
    quote, backslash = 'o"neil@acme.com', "back\\slash@acme.com"
    hostile = 'x" or userName pr or userName eq "y'

    async def go() -> None:
        async with client_for(sandbox, "cloud") as c:
            q = await c.create("Users", {"schemas": [USER], "userName": quote})
            b = await c.create("Users", {"schemas": [USER], "userName": backslash})
        for flavor in ("cloud", "onprem"):
            async with client_for(sandbox, flavor) as c:
                assert ids(await c.list("Users", filters.eq("userName", quote))) == [q["id"]]
                assert ids(await c.list("Users", filters.eq("userName", backslash))) == \
                    [b["id"]]
                assert ids(await c.list("Users", filters.co("userName", '"'))) == [q["id"]]
                assert ids(await c.list("Users", filters.co("userName", "\\"))) == [b["id"]]
                both = filters.and_(filters.co("userName", "neil"), filters.eq("userName", quote))
                assert ids(await c.list("Users", both)) == [q["id"]]
                assert list(await c.list("Users", filters.eq("userName", hostile))) == []

    run(go())


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningSandbox]:
    with running(parse_tenant(demodata.generate(scale=1), "demo")) as sb:
        yield sb


@pytest.mark.parametrize("text", [
    'userName sw "a"',
    'userName sw "a" and active eq true',
    'displayName ew "n" or userName co "ro"',
    'userName co "e" and not (displayName sw "A")',
    'emails[type eq "work" and value co "a"]',
])
def test_unsupported_operators_on_cloud_are_evaluated_here(demo: RunningSandbox,
                                                           text: str) -> None:
    """The cloud connector only takes eq/co; the answer must match the on-prem flavor's own
    evaluation over the users both flavors show."""
    async def go() -> tuple[ScimList, ScimList, set[str], set[str]]:
        async with client_for(demo, "cloud") as cloud, client_for(demo, "onprem") as onprem:
            return (await cloud.list("Users", text), await onprem.list("Users", text),
                    set(ids(await cloud.list("Users"))), set(ids(await onprem.list("Users"))))

    cloud, onprem, cloud_all, onprem_all = run(go())
    shared = cloud_all & onprem_all
    assert onprem, "the filter should match someone"
    assert set(ids(cloud)) & shared == set(ids(onprem)) & shared
    assert cloud.complete and onprem.complete
    assert any("evaluated by opskit" in n for n in cloud.notes)
    assert not onprem.notes  # pushed whole to a server that supports it


def test_a_server_that_refuses_a_filter_gets_the_supported_part(demo: RunningSandbox) -> None:
    """Flavor unknown: the whole filter is tried, and on invalidFilter split as for cloud."""
    text = 'userName sw "a" and active eq true'

    async def go() -> tuple[ScimList, ScimList]:
        prof = cloud_profile(demo)
        unknown = ScimClient.for_profile(prof)
        unknown.flavor = None
        async with unknown, client_for(demo, "cloud") as cloud:
            return await unknown.list("Users", text), await cloud.list("Users", text)

    unknown, cloud = run(go())
    assert ids(unknown) == ids(cloud) and len(unknown) > 0


def test_bad_filter_syntax_is_caught_before_sending(sandbox: RunningSandbox) -> None:
    async def go() -> None:
        async with client_for(sandbox, "cloud") as c:
            with pytest.raises(ConfigError):
                await c.list("Users", 'userName eq "a" and')
            assert c.requests == 0

    run(go())


def test_non_scim_html_from_a_real_server(sandbox: RunningSandbox) -> None:
    """A wrong base URL on a real host: its 404 page is 'not SCIM', not 'no such user'."""
    async def go() -> None:
        async with ScimClient(sandbox.url + "/scim/v3", http.async_client()) as c:
            with pytest.raises(NotScimResponse):
                await c.get("Users", "u1")

    run(go())


def test_transport_failure_is_one_clear_error() -> None:
    from opskit.errors import TransportError

    from .servers import closed_port

    async def go() -> None:
        async with plain_client(f"http://127.0.0.1:{closed_port()}/v2") as c:
            with pytest.raises(TransportError) as info:
                await c.get("Users", "1")
            assert "refused" in str(info.value) and info.value.remediation

    run(go())

