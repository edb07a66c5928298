"""Blocking SCIM: the client's blocking face, and async code run to completion from blocking
code (also inside Jupyter's running loop)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any

import httpx

from .. import http
from ..config import Endpoint
from ._base import Call, ScimBase, client_options, require_base_url
from .responses import list_page, scim_json


class SyncScimClient(ScimBase):
    """SCIM operations against one base URL, one blocking request at a time. Use as
    ``with SyncScimClient.for_profile(p, policy=...) as scim``.

    Each call is one answer (after the retries its policy allows), decoded into SCIM data or
    the typed error the async ScimClient raises for it. For whole listings, use the async
    client (from blocking code through run_sync): it reads pages concurrently, deduplicates
    them and notices a count that changes while it reads.
    """

    def __init__(self, base_url: str, client: httpx.Client | Callable[[], httpx.Client], *,
                 flavor: str | None = None, owns_client: bool = True):
        super().__init__(base_url, flavor=flavor)
        # A client may be given as how to open it: then it is opened on first use, so a runbook
        # that stops before its SCIM checks never builds their auth or loads CAs.
        self._client: httpx.Client | None = None
        self._open: Callable[[], httpx.Client] | None = None
        if isinstance(client, httpx.Client):
            self._client = client
            self._retry_transport(client)
        else:
            self._open = client
        self._owns = owns_client

    @classmethod
    def for_profile(cls, profile: Endpoint, *, policy: http.RetryPolicy | None = None,
                    auth: httpx.Auth | None = None) -> SyncScimClient:
        """A client for a connected profile, opened on first use. ``policy``: how its requests
        are retried (default: the profile's limits); ``auth``: a flow other than the
        profile's own (a token already fetched, say)."""
        require_base_url(profile)
        return cls(profile.base_url,
                   lambda: http.client(**client_options(profile, policy, auth)),
                   flavor=profile.flavor)

    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            assert self._open is not None  # one of the two is always set (see __init__)
            self._client = self._open()
            self._retry_transport(self._client)
        return self._client

    def __enter__(self) -> SyncScimClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns and self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ requests
    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None) -> httpx.Response:
        """The raw answer, for a caller that diagnoses its status and body itself; a server
        that cannot be reached is a TransportError."""
        call = Call(method, path, params, json)
        client = self.http
        try:
            return client.send(self._build(client, call))
        except httpx.TransportError as exc:
            raise self._unreachable(call, exc) from None

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None) -> Any:
        """The answer's SCIM JSON (None for no content); a typed error for anything else."""
        return scim_json(self.send(method, path, params=params, json=json))

    def _call(self, call: Call) -> Any:
        return self.request(call.method, call.path, params=call.params, json=call.json)

    def get(self, endpoint: str, rid: str, attributes: list[str] | None = None) -> Any:
        return self._call(Call.get(endpoint, rid, attributes))

    def create(self, endpoint: str, body: dict[str, Any]) -> Any:
        return self._call(Call.create(endpoint, body))

    def replace(self, endpoint: str, rid: str, body: dict[str, Any]) -> Any:
        return self._call(Call.replace(endpoint, rid, body))

    def patch(self, endpoint: str, rid: str, operations: list[dict[str, Any]]) -> Any:
        return self._call(Call.patch(endpoint, rid, operations))

    def delete(self, endpoint: str, rid: str) -> None:
        self._call(Call.delete(endpoint, rid))

    # ------------------------------------------------------------------ one page
    def page(self, endpoint: str, *, filter: str | None = None,
             attributes: list[str] | None = None, start: int | None = None,
             count: int | None = None) -> tuple[int | None, list[dict[str, Any]]]:
        """(totalResults, resources) of one list request; what is not given is not sent."""
        params: dict[str, Any] = {}
        if filter is not None:
            params["filter"] = filter
        if attributes:
            params["attributes"] = ",".join(attributes)
        if start is not None:
            params["startIndex"] = start
        if count is not None:
            params["count"] = count
        return list_page(self.request("GET", endpoint, params=params or None))

    def total(self, endpoint: str) -> int:
        """How many resources the endpoint counts (one request, no resources read)."""
        total, _ = self.page(endpoint, count=0)
        return int(total or 0)


def run_sync(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, also from inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}
    # The caller's context goes along (a thread starts with an empty one), as asyncio.run
    # would carry it: what is set there (opskit.http.recording) holds in the coroutine too.
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = context.run(lambda: asyncio.run(coro_factory()))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="opskit-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
