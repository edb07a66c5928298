"""A hostile SCIM server on 127.0.0.1: every way a broken or malicious server has held a client
forever, or crashed it, in one ASGI app.

It serves an on-prem-style SCIM base at ``/v2``: discovery answers normally, and so do every
listing but the one ``target`` names (Users by default), which misbehaves as ``mode`` says.
``/export.csv`` is an IGA export; in mode ``endless-csv`` it never ends.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any
from urllib.parse import parse_qs

from opskit.scim import urns

from .servers import Receive, Scope, Send, send_json

MODES = {
    "huge-total": "totalResults 10^12, one resource per page",
    "negative-total": "totalResults -1",
    "repeat-no-total": "no totalResults, the same resource on every page",
    "stuck-pages": "totalResults 50, and every page the same first ten",
    "endless-no-total": "no totalResults, a new resource on every page, forever",
    "dribble": "the body arrives one byte at a time, slowly",
    "silent": "the connection is accepted, and never answered",
    "gzip-bomb": "a small gzip body that inflates far beyond any page",
    "bad-utf8": "invalid UTF-8 inside a JSON string",
    "null-page": "a page that is JSON null (which crashes Arrow's JSON reader)",
    "deep-json": "JSON nested 200,000 levels deep",
    "endless-csv": "an IGA export that streams forever",
}
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
TYPES = ("User", "Group", "Container", "ContainerPermission", "PrivilegedData")
ENDPOINTS = {"User": "Users", "Group": "Groups", "Container": "Containers",
             "ContainerPermission": "ContainerPermissions", "PrivilegedData": "PrivilegedData"}


def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of `inflated` zero bytes (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunk = b"\0" * (1 << 20)
    parts = [packer.compress(chunk) for _ in range(inflated >> 20)]
    return b"".join([*parts, packer.flush()])


class Hostile:
    def __init__(self, mode: str, *, target: str = "Users", drip_seconds: float = 0.2,
                 bomb_bytes: int = 256 << 20) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self.mode, self.target = mode, target
        self.drip_seconds = drip_seconds
        self.bomb = gzip_bomb(bomb_bytes) if mode == "gzip-bomb" else b""
        self.requests = 0
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        # The client going away ends the endless answers (uvicorn drops what is sent to it).
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(self._watch(receive, gone))
        try:
            await self._answer(scope, send, gone)
        finally:
            watcher.cancel()

    @staticmethod
    async def _watch(receive: Receive, gone: asyncio.Event) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    async def _answer(self, scope: Scope, send: Send, gone: asyncio.Event) -> None:
        path = scope["path"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        self.requests += 1
        if path == "/export.csv":
            await self._csv(send, gone)
        elif path == "/v2/ServiceProviderConfig":
            await self._json(send, {"schemas": [SPC],
                                    "filter": {"supported": True, "maxResults": 1000}})
        elif path == "/v2/ResourceTypes":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": len(TYPES),
                                    "Resources": [{"name": t, "endpoint": f"/{ENDPOINTS[t]}",
                                                   "schema": urns.RESOURCE_TYPES[t][1]}
                                                  for t in TYPES]})
        elif path == f"/v2/{self.target}":
            await self._hostile_page(send, gone, int(query.get("startIndex", 1)),
                                     int(query.get("count", 100)))
        elif path.removeprefix("/v2/") in ENDPOINTS.values():
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": 0,
                                    "Resources": []})
        else:
            await self._json(send, {"schemas": [urns.ERROR], "status": "404"}, 404)

    async def _json(self, send: Send, body: Any, status: int = 200) -> None:
        self.answered += 1
        await send_json(send, status, json.dumps(body).encode())

    def _user(self, n: int) -> dict[str, Any]:
        return {"schemas": [urns.USER], "id": f"u{n}", "userName": f"user{n}@hostile.invalid"}

    async def _hostile_page(self, send: Send, gone: asyncio.Event, start: int,
                            count: int) -> None:
        mode = self.mode
        if mode == "huge-total":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": 10**12,
                                    "Resources": [self._user(start)]})
        elif mode == "negative-total":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": -1,
                                    "Resources": [self._user(start)]})
        elif mode == "stuck-pages":
            first_ten = [self._user(i + 1) for i in range(min(count, 10))]
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": 50,
                                    "Resources": first_ten})
        elif mode == "repeat-no-total":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE],
                                    "Resources": [self._user(1)] * min(count, 1000)})
        elif mode == "endless-no-total":
            await self._json(send, {"schemas": [urns.LIST_RESPONSE],
                                    "Resources": [self._user(start + i)
                                                  for i in range(min(count, 1000))]})
        elif mode == "dribble":
            body = json.dumps({"schemas": [urns.LIST_RESPONSE], "totalResults": 1,
                               "Resources": [self._user(1)]}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/scim+json"),
                (b"content-length", str(len(body)).encode())]})
            for byte in body:
                await asyncio.sleep(self.drip_seconds)
                if gone.is_set():
                    return
                await send({"type": "http.response.body", "body": bytes([byte]),
                            "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif mode == "silent":
            await gone.wait()
        elif mode == "gzip-bomb":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/scim+json"), (b"content-encoding", b"gzip"),
                (b"content-length", str(len(self.bomb)).encode())]})
            await send({"type": "http.response.body", "body": self.bomb})
        elif mode == "null-page":
            await send_json(send, 200, b"null")
        elif mode == "bad-utf8":
            body = (b'{"schemas": ["' + urns.LIST_RESPONSE.encode() + b'"], "totalResults": 1, '
                    b'"Resources": [{"id": "u1", "userName": "caf\xc3\x28\xff@x.invalid"}]}')
            await send_json(send, 200, body)
        elif mode == "deep-json":
            depth = 200_000
            body = (b'{"schemas": ["' + urns.LIST_RESPONSE.encode() + b'"], "totalResults": 1, '
                    b'"Resources": [{"id": "u1", "emails": ' + b"[" * depth + b"]" * depth + b"}]}")
            await send_json(send, 200, body)
        else:  # endless-csv targets the export, not a listing
            await self._json(send, {"schemas": [urns.LIST_RESPONSE], "totalResults": 0,
                                    "Resources": []})

    async def _csv(self, send: Send, gone: asyncio.Event) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/csv")]})
        await send({"type": "http.response.body", "body": b"group,member\n", "more_body": True})
        if self.mode != "endless-csv":
            await send({"type": "http.response.body", "body": b"DBA,alice@x.invalid\n"})
            return
        row = b"DBA,alice@x.invalid\n" * 4096
        while not gone.is_set():
            await send({"type": "http.response.body", "body": row, "more_body": True})
            await asyncio.sleep(0)
