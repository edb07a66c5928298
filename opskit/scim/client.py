"""An async SCIM client on httpx: concurrent paging that backs off, typed errors, leniency.

Listing reads the first page with the largest page size the server advertises, then every other
page concurrently. Concurrency is shared by all requests of a client and adapts: halved when the
server throttles (429), grown back one step at a time while it does not. Results are deduplicated
by id; a list whose totalResults changes while it is read is read again rather than returned
short, and a page that keeps failing raises IncompleteError naming the resource and the page.

A listing cannot run away (opskit.limits): a totalResults that cannot be (negative, or above
``max_total_results``) is refused; a page that brings no new resource ends its run of pages; a
server that does not count is read a page at a time until a short or empty page, and no further
than ``max_total_results``; and the whole listing has ``listing_timeout``. What ends early is
marked incomplete, never returned quietly short.
"""

from __future__ import annotations

import asyncio
import builtins  # `list` in ScimClient's signatures after its method `list` means the method
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from .. import http
from .._redact import logger
from ..config import Endpoint
from ..errors import (
    ConnectorDisabled,
    IncompleteError,
    LimitExceeded,
    OpskitError,
    ScimBadRequest,
    ScimError,
    ScimInvalidFilter,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    ScimTooMany,
    SecretServerUnreachable,
    TransportError,
)
from ..limits import DEFAULT as DEFAULT_LIMITS
from ..limits import Limits
from . import filters, urns
from ._base import Call, ScimBase, client_options, require_base_url
from ._pacing import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, AdaptiveLimiter, LoadPacer
from .responses import is_json, list_page, scim_json

if TYPE_CHECKING:  # scim2-models is imported where a filter is evaluated here: ~0.5 s
    from scim2_models import Resource

log = logger("opskit.scim")
DEFAULT_PAGE_SIZE = 100  # when a server advertises no maximum
MAX_PAGE_SIZE = 1000
# Pages of one listing queued at once: they wait their turn in the limiter, first come first
# served, so a listing's pages go out together; a count in the millions costs no more memory.
QUEUED_PAGES = 1024


class ScimList(list[Any]):
    """A listing: the resources (or one object per page), plus the server's count and whether
    it was read whole."""

    def __init__(self, items: list[Any], total: int, complete: bool = True,
                 notes: list[str] | None = None, pages: int = 0, *,
                 resources_read: int | None = None, keep: list[list[bool]] | None = None):
        super().__init__(items)
        self.total = total
        self.complete = complete
        self.notes = notes or []
        self.pages = pages
        # Resources read, each once: len(self) unless the items are pages (per_page). Not
        # `count`, which would hide list.count.
        self.resources_read = len(items) if resources_read is None else resources_read
        # Per page, which resources to keep (None: all): pages that overlapped repeat some.
        self.keep = keep


class ScimClient(ScimBase):
    """SCIM operations against one base URL. Use as ``async with ScimClient.for_profile(p)``.
    Its blocking twin, for one answer at a time, is SyncScimClient."""

    def __init__(self, base_url: str, client: httpx.AsyncClient, *, flavor: str | None = None,
                 page_size: int | None = None, concurrency: int | None = None,
                 owns_client: bool = True, limits: Limits = DEFAULT_LIMITS):
        super().__init__(base_url, flavor=flavor)
        self.http = client
        self.page_size = page_size
        self.limits = limits
        # A concurrency given is kept (but for 429s); otherwise the pacer sets it.
        self.limiter = AdaptiveLimiter(concurrency or DEFAULT_CONCURRENCY)
        self.pacer = LoadPacer(self.limiter, adapt=concurrency is None)
        self.limit_sum = 0  # the concurrency limit at each request: its mean is what was used
        self.requests = 0
        self._owns = owns_client
        self._spc: dict[str, Any] | None = None
        self._spc_lock: asyncio.Lock | None = None
        self._spc_task: asyncio.Future[dict[str, Any]] | None = None
        self._models: dict[str, type[Resource[Any]] | None] = {}
        # Pages are decoded one at a time, beside the event loop: more threads only contend
        # for the GIL (measured: 7% more CPU per inventory with asyncio's default pool).
        self._decoder: ThreadPoolExecutor | None = None
        transport = self._retry_transport(client)
        if transport is not None:
            transport.listeners.append(self._on_retry)

    @classmethod
    def for_profile(cls, profile: Endpoint, *, policy: http.RetryPolicy | None = None,
                    auth: httpx.Auth | None = None, **kwargs: Any) -> ScimClient:
        """A client for a connected profile. ``policy``: how its requests are retried (default:
        the profile's limits); ``auth``: a flow other than the profile's own."""
        require_base_url(profile)
        concurrency = kwargs.get("concurrency") or MAX_CONCURRENCY
        client = http.async_client(**client_options(profile, policy, auth),
                                   max_connections=max(concurrency * 2, 8))
        return cls(profile.base_url, client, flavor=profile.flavor, limits=profile.limits,
                   **kwargs)

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._decoder is not None:
            self._decoder.shutdown(wait=False)
            self._decoder = None
        if self._owns:
            await self.http.aclose()

    @property
    def mean_concurrency(self) -> float:
        """The concurrency limit in effect, averaged over the requests sent."""
        return self.limit_sum / self.requests if self.requests else float(self.limiter.limit)

    def _on_retry(self, what: int | str) -> None:
        if what == 429:
            self.limiter.throttled(what)

    # ------------------------------------------------------------------ raw requests
    async def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    json: Any = None, pace: bool = False) -> httpx.Response:
        """One request within the concurrency limit. Page requests (`pace`) are spaced out and
        timed by the pacer."""
        call = Call(method, path, params, json)
        request = self._build(self.http, call)
        async with self.limiter:
            self.requests += 1
            self.limit_sum += self.limiter.limit
            if pace and (delay := self.pacer.send_delay()) > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            try:
                response = await self.http.send(request)
                if pace:
                    self.pacer.observe(time.perf_counter() - sent)
                return response
            except httpx.TransportError as exc:
                raise self._unreachable(call, exc) from None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None) -> Any:
        body = scim_json(await self._send(method, path, params=params, json=json))
        self.limiter.succeeded()
        return body

    # ------------------------------------------------------------------ discovery
    async def service_provider_config(self) -> dict[str, Any]:
        if self._spc is None:
            if self._spc_lock is None:
                self._spc_lock = asyncio.Lock()
            async with self._spc_lock:  # concurrent listings ask once, not once each
                if self._spc is None:
                    try:
                        self._spc = await self.request("GET", "ServiceProviderConfig") or {}
                    except ScimNotFound:
                        self._spc = {}
        return self._spc

    async def _first_page_size(self) -> int:
        """The count to ask a listing's first page for. Until ServiceProviderConfig has
        answered, the largest opskit asks for: the server returns no more than it allows, the
        pages after follow what it returned and what it advertises, and the listing starts a
        round trip sooner. ServiceProviderConfig is fetched meanwhile."""
        if self.page_size or self._spc is not None:
            return await self.max_page_size()
        if self._spc_task is None:
            self._spc_task = asyncio.ensure_future(self.service_provider_config())
            # Its failure, if any, is met again (and raised) by max_page_size.
            self._spc_task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return MAX_PAGE_SIZE

    async def max_page_size(self) -> int:
        if self.page_size:
            return self.page_size
        spc = await self.service_provider_config()
        advertised = (spc.get("filter") or {}).get("maxResults")
        if isinstance(advertised, int) and advertised > 0:
            return min(advertised, MAX_PAGE_SIZE)
        return DEFAULT_PAGE_SIZE

    async def resource_types(self) -> list[dict[str, Any]] | None:
        try:
            body = await self.request("GET", "ResourceTypes")
        except ScimNotFound:
            return None
        return list_page(body)[1] if isinstance(body, dict) else None

    async def _model(self, endpoint: str) -> type[Resource[Any]] | None:
        """The model client-side filters are evaluated on (from the server's own schema)."""
        from pydantic import ValidationError
        from scim2_models import Group, Resource, Schema, User

        name = urns.ENDPOINT_TYPES.get(endpoint, endpoint)
        if name not in self._models:
            built_in: dict[str, type[Resource[Any]]] = {"User": User, "Group": Group}
            model = built_in.get(name)
            if model is None and name in urns.RESOURCE_TYPES:
                try:
                    doc = await self.request("GET", f"Schemas/{urns.RESOURCE_TYPES[name][1]}")
                    model = Resource.from_schema(Schema.model_validate(doc))
                except (ScimError, ValidationError, ValueError):
                    model = None
            self._models[name] = model
        return self._models[name]

    # ------------------------------------------------------------------ CRUD
    async def _call(self, call: Call) -> Any:
        return await self.request(call.method, call.path, params=call.params, json=call.json)

    async def get(self, endpoint: str, rid: str, attributes: list[str] | None = None) -> Any:
        return await self._call(Call.get(endpoint, rid, attributes))

    async def create(self, endpoint: str, body: dict[str, Any]) -> Any:
        return await self._call(Call.create(endpoint, body))

    async def replace(self, endpoint: str, rid: str, body: dict[str, Any]) -> Any:
        return await self._call(Call.replace(endpoint, rid, body))

    async def patch(self, endpoint: str, rid: str, operations: list[dict[str, Any]]) -> Any:
        return await self._call(Call.patch(endpoint, rid, operations))

    async def delete(self, endpoint: str, rid: str) -> None:
        await self._call(Call.delete(endpoint, rid))

    # ------------------------------------------------------------------ listing
    async def list(self, endpoint: str, filter: str | None = None, *,
                   attributes: list[str] | None = None,
                   on_progress: Callable[[int], None] | None = None,
                   per_page: Callable[[list[dict[str, Any]]], Any] | None = None,
                   on_total: Callable[[int | None], None] | None = None) -> ScimList:
        """Every resource of an endpoint (matching the filter), read concurrently.

        ``per_page`` turns each page's resources into one object (a column batch, say) as
        pages arrive: the raw JSON of a large listing is never held all at once, and the work
        overlaps with the waits for other pages. The list then holds one such object per page,
        in order, and ``keep`` says which resources of each to keep when pages overlapped. A
        ``per_page`` with a ``from_json(raw) -> (totalResults, ids, kept) | None`` method reads
        the raw answer itself where it can, and one with a ``distinct(kept pages) -> int``
        method counts the distinct ids the pages hold (see opskit._columns).
        ``on_total`` hears the first page's totalResults (None: the server does not count),
        so a progress bar can show how many resources to expect; again if the list is re-read.
        """
        try:
            async with asyncio.timeout(self.limits.listing_timeout):
                return await self._list(endpoint, filter, attributes, on_progress, per_page,
                                        on_total)
        except TimeoutError:
            raise LimitExceeded(f"{endpoint}: not read whole within "
                                f"{self.limits.listing_timeout:g} s (limits.listing_timeout)",
                                "listing_timeout") from None

    async def _list(self, endpoint: str, filter: str | None, attributes: builtins.list[str] | None,
                    on_progress: Callable[[int], None] | None,
                    per_page: Callable[[builtins.list[dict[str, Any]]], Any] | None,
                    on_total: Callable[[int | None], None] | None = None) -> ScimList:
        server, client_side = filters.split(filter, eq_co_only=self.flavor == "cloud")
        mode = _Mode(per_page) if client_side is None else _Mode()
        try:
            found = await self._list_all(endpoint, server, attributes, on_progress, mode,
                                         on_total)
        except ScimInvalidFilter:
            if self.flavor == "cloud" or server is None:
                raise
            # A server that refuses what it could not evaluate: evaluate it here instead.
            server, client_side = filters.split(filter, eq_co_only=True)
            mode = _Mode()
            found = await self._list_all(endpoint, server, attributes, on_progress, mode,
                                         on_total)
        if client_side is None:
            return found
        kept = await self._filter_here(endpoint, found, client_side)
        if per_page is not None:
            kept[:] = [per_page(list(kept))]
        return kept

    async def _filter_here(self, endpoint: str, found: ScimList, text: str) -> ScimList:
        from pydantic import ValidationError
        from scim2_models import Context, ScimFilter

        model = await self._model(endpoint)
        if model is None:
            raise OpskitError(f"cannot evaluate the filter {text!r} on {endpoint}: the server "
                              "does not publish its schema", "filter with eq and co only")
        # scim2-models binds a filter to a model by subscripting, here one chosen at run time,
        # which mypy reads as a static type.
        bound = ScimFilter[model](text)  # type: ignore[valid-type]
        kept, unreadable = [], 0
        for res in found:
            try:
                instance = model.model_validate(res, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            except ValidationError:
                unreadable += 1
                continue
            if bound.match(instance):
                kept.append(res)
        notes = [*found.notes, f"{endpoint}: filter {text!r} evaluated by opskit"]
        if unreadable:
            notes.append(f"{endpoint}: {unreadable} resources did not fit the schema and could "
                         "not be filtered")
        return ScimList(kept, len(kept), found.complete and not unreadable, notes, found.pages)

    async def _page(self, endpoint: str, params: dict[str, Any], start: int, count: int,
                    mode: _Mode) -> tuple[int | None, _Read]:
        """(totalResults, what was read) of one page.

        The page is decoded (and made into what per_page keeps) in a worker thread, so the
        event loop keeps sending requests meanwhile: waiting and working overlap instead of
        taking turns.
        """
        query = {**params, "startIndex": start, "count": count}
        try:
            response = await self._send("GET", endpoint, params=query, pace=True)
            if self._decoder is None:
                self._decoder = ThreadPoolExecutor(1, thread_name_prefix="opskit-decode")
            total, read = await asyncio.get_running_loop().run_in_executor(
                self._decoder, _decode_page, response, mode)
            mode.note(read)
            self.limiter.succeeded()
            return total, read
        except (TransportError, ScimServerError, ScimRateLimited) as exc:
            # Failures that outlasted the retries. A refusal (401, 403, 404, a bad filter) or an
            # answer that is not SCIM keeps its own type and remediation; a connector that says
            # why it serves nothing (its Secret Server out of reach, disabled) keeps its remedy.
            named = isinstance(exc, SecretServerUnreachable | ConnectorDisabled)
            raise IncompleteError(
                f"{endpoint}: the page at startIndex {start} (count {count}) could not be read: "
                f"{exc.message}", exc.remediation if named else "the server kept failing for "
                "this page past the retries; run again later, and check the connector's logs "
                "if it lasts", resource=endpoint, page=start) from None

    def _check_total(self, endpoint: str, total: int) -> None:
        """Refuse a count that cannot be, before reading a page more."""
        if total < 0:
            raise ScimProtocolError(f"{endpoint}: the server answered totalResults {total}, "
                                    "which is not a count")
        if total > self.limits.max_total_results:
            raise LimitExceeded(f"{endpoint}: the server says it holds {total:,} resources, "
                                "more than limits.max_total_results "
                                f"({self.limits.max_total_results:,})", "max_total_results")

    async def _range(self, endpoint: str, params: dict[str, Any], start: int, count: int,
                     mode: _Mode, *, page_size: int | None = None,
                     seen: set[str | None] | None = None,
                     on_page: Callable[[int], None] | None = None) -> _Run:
        """The pages for resources start … start+count-1, each asking for what is left of the
        run (at most ``page_size``). A run ends at an empty page, at a page that brings no
        resource not already ``seen`` (a server repeating itself: ``stalled_at`` says where),
        and, with a ``page_size`` (a server that gives no totalResults), at a short page."""
        run = _Run()
        seen = set(seen or ())
        got = 0
        while got < count:
            asked = min(page_size or count, count - got)
            total, read = await self._page(endpoint, params, start + got, asked, mode)
            run.requests += 1
            if total is not None:
                self._check_total(endpoint, total)
                run.totals.add(total)
            if not read.ids:
                break
            # A run of one page (a fan-out's, nearly always) has nothing to compare or carry on.
            if seen or got + len(read.ids) < count:
                ids = set(read.ids) - {None}
                if ids and ids <= seen:
                    run.stalled_at = start + got  # what is missing is said by the caller
                    break
                seen |= ids
            run.reads.append(read)
            got += len(read.ids)
            if on_page is not None:
                on_page(len(read.ids))
            if page_size and len(read.ids) < page_size:
                break
        return run

    async def _uncounted(self, endpoint: str, params: dict[str, Any], first: _Read, stride: int,
                         mode: _Mode, on_progress: Callable[[int], None] | None
                         ) -> tuple[builtins.list[_Read], int, str | None]:
        """(pages read, requests, why it stopped early or None) of a listing whose server gives
        no totalResults: one page at a time, until a short or an empty page, and no further
        than max_total_results."""
        cap = self.limits.max_total_results
        run = await self._range(endpoint, params, len(first.ids) + 1,
                                cap - len(first.ids) + 1, mode, page_size=stride,
                                seen=set(first.ids), on_page=on_progress)
        reads = [first, *run.reads]
        if sum(len(r.ids) for r in reads) > cap:
            raise LimitExceeded(f"{endpoint}: the server gives no totalResults and has sent "
                                f"more than limits.max_total_results ({cap:,}) resources",
                                "max_total_results")
        stopped = None if run.stalled_at is None else (
            f"{endpoint}: the server gives no totalResults and its page at startIndex "
            f"{run.stalled_at} repeats resources already read; the listing stopped there")
        return reads, run.requests, stopped

    async def _fan_out(self, endpoint: str, params: dict[str, Any], first_start: int,
                       total: int, stride: int, mode: _Mode,
                       on_progress: Callable[[int], None] | None) -> builtins.list[_Run]:
        """Every page from first_start to total, read concurrently; runs in page order."""
        starts = range(first_start, total + 1, stride)
        results: list[_Run | None] = [None] * len(starts)  # one reference each, until read
        queued = asyncio.Semaphore(QUEUED_PAGES)

        def done(i: int, task: asyncio.Task[_Run]) -> None:
            queued.release()
            if not task.cancelled() and task.exception() is None:
                run = results[i] = task.result()
                if on_progress is not None:
                    on_progress(sum(len(r.ids) for r in run.reads))

        try:
            async with asyncio.TaskGroup() as tg:
                for i, s in enumerate(starts):
                    await queued.acquire()  # at once while fewer than QUEUED_PAGES wait
                    task = tg.create_task(self._range(endpoint, params, s,
                                                      min(stride, total - s + 1), mode))
                    task.add_done_callback(partial(done, i))
        except BaseExceptionGroup as group:
            # The caller gets the page's own error (IncompleteError, a typed SCIM error), not a
            # group that `except IncompleteError` would miss.
            raise _first_error(group) from None
        return [run for run in results if run is not None]  # every one, when none failed

    async def _list_all(self, endpoint: str, server_filter: str | None,
                        attributes: builtins.list[str] | None,
                        on_progress: Callable[[int], None] | None, mode: _Mode,
                        on_total: Callable[[int | None], None] | None = None) -> ScimList:
        first_size = await self._first_page_size()
        params: dict[str, Any] = {}
        if server_filter:
            params["filter"] = server_filter
        if attributes:
            params["attributes"] = ",".join(attributes)
        seen_totals: list[int] = []
        pages = 0
        for _attempt in range(3):
            mode.reset()
            try:
                total, first = await self._page(endpoint, params, 1, first_size, mode)
            except ScimInvalidFilter:
                raise
            except (ScimBadRequest, ScimTooMany):
                if first_size == await self.max_page_size():
                    raise
                # A server that refuses a count above its maximum (400, 413): ask for what it
                # advertises. A page that keeps failing is not asked again: it failed at the
                # retries' end already, and would only fail as long again.
                first_size = await self.max_page_size()
                pages += 1
                total, first = await self._page(endpoint, params, 1, first_size, mode)
            size = await self.max_page_size()
            pages += 1
            n_first = len(first.ids)
            stride = n_first if 0 < n_first < size else size
            if on_progress is not None:
                on_progress(n_first)
            if total is None:  # a server that does not count: read until a short page
                if on_total is not None:
                    on_total(None)
                reads, n, stopped = ([first] if n_first else [], 0, None) if n_first < size \
                    else await self._uncounted(endpoint, params, first, stride, mode,
                                               on_progress)
                found = mode.assemble(reads, sum(len(r.ids) for r in reads), pages + n)
                if stopped:
                    found.complete = False
                    found.notes.append(stopped)
                return found
            self._check_total(endpoint, total)
            if on_total is not None:  # once known sound
                on_total(total)
            totals = {total}
            reads = [first] if n_first else []
            if total > n_first:
                for run in await self._fan_out(endpoint, params, n_first + 1, total, stride,
                                               mode, on_progress):
                    totals |= run.totals
                    reads.extend(run.reads)
                    pages += run.requests
            found = mode.assemble(reads, total, pages)
            seen_totals.extend(sorted(totals))
            if len(totals) == 1 and found.resources_read == total:
                return found
            log.info("%s: count changed while listing (%s, %d read); reading again", endpoint,
                     sorted(totals), found.resources_read)
        if len(set(seen_totals)) > 1:
            note = (f"{endpoint}: totalResults kept changing while listing "
                    f"({', '.join(map(str, sorted(set(seen_totals))))}); "
                    f"{found.resources_read} read")
        else:
            note = (f"{endpoint}: {found.resources_read:,} of the {found.total:,} resources the "
                    "server counts could be read (its pages repeat or skip resources)")
        found.complete = False
        found.notes.append(note)
        return found


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The error to raise for a failed group of page reads: the first opskit error, else the
    first error of any kind (a cancellation or an interrupt stays what it is)."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            stack[:0] = exc.exceptions
        else:
            leaves.append(exc)
    for exc in leaves:
        if not isinstance(exc, Exception):
            return exc
    return next((e for e in leaves if isinstance(e, OpskitError)), leaves[0])


class _Read:
    """One page as read: its resources' ids (what deduplication compares) and what is kept."""

    __slots__ = ("ids", "kept")

    def __init__(self, ids: list[str | None], kept: Any):
        self.ids = ids
        self.kept = kept


@dataclass
class _Run:
    """A run of pages as read: the totals they gave, the pages, the requests it took, and
    where a page brought nothing new (None: it did not stall)."""

    totals: set[int] = field(default_factory=set)
    reads: list[_Read] = field(default_factory=list)
    requests: int = 0
    stalled_at: int | None = None


class _Mode:
    """What a listing keeps of each page: the resources, or one object made of the whole
    page; and how the pages become one deduplicated ScimList."""

    def __init__(self, per_page: Callable[[list[dict[str, Any]]], Any] | None = None):
        self.per_page = per_page
        self._distinct: Callable[[list[Any]], int] | None = getattr(per_page, "distinct", None)
        self.reset()

    def reset(self) -> None:
        """Start a new reading of the listing."""
        self._ids: set[str | None] = set()
        self._named = 0

    def note(self, read: _Read) -> None:
        """Count a page's ids as it arrives, so the end of a listing need not."""
        if self.per_page is not None:
            if self._distinct is None:
                self._ids.update(read.ids)
            self._named += len(read.ids) - read.ids.count(None)

    def keep(self, resources: list[dict[str, Any]]) -> Any:
        return resources if self.per_page is None else self.per_page(resources)

    def assemble(self, reads: list[_Read], total: int, pages: int) -> ScimList:
        """Pages in order, each resource once (the first time it was read)."""
        if self.per_page is None:
            unique: dict[str, Any] = {}
            anonymous: list[Any] = []
            for read in reads:
                for rid, kept in zip(read.ids, read.kept, strict=True):
                    if rid is None:
                        anonymous.append(kept)
                    else:
                        unique.setdefault(rid, kept)
            return ScimList([*unique.values(), *anonymous], total, True, pages=pages)
        read_count = sum(len(r.ids) for r in reads)
        # Counted where the pages are held, if their maker can (a set of a million Python
        # strings costs more than every page's columns).
        distinct = (len(self._ids - {None}) if self._distinct is None
                    else self._distinct([r.kept for r in reads]))
        repeats = self._named - distinct
        keep: list[list[bool]] | None = None
        if repeats:  # pages overlapped: mark the repeats
            seen: set[str] = set()
            keep = []
            for read in reads:
                mask = []
                for rid in read.ids:
                    mask.append(rid is None or rid not in seen)
                    if rid is not None:
                        seen.add(rid)
                keep.append(mask)
        return ScimList([r.kept for r in reads], total, True, pages=pages,
                        resources_read=read_count - repeats, keep=keep)


def _decode_page(response: httpx.Response, mode: _Mode) -> tuple[int | None, _Read]:
    """(totalResults, the page as read) of a list answer."""
    fast = getattr(mode.per_page, "from_json", None)
    if fast is not None and response.status_code == 200 and is_json(response):
        read = fast(response.content)
        if read is not None:
            return read[0], _Read(read[1], read[2])
    total, resources = list_page(scim_json(response), response)
    return total, _Read([r.get("id") for r in resources], mode.keep(resources))
