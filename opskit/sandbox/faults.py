"""Rehearsal faults: latency, throttling, outages, dropped connections, early token expiry.

Every decision is a hash of (seed, request, how many times that request was seen), so a run is
reproducible whatever order concurrent requests arrive in, and a retried request draws anew.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

import orjson

from .errors import ScimError

_KEYS = {"429": "rate_429", "503": "rate_503", "drop": "drop", "token_expiry": "token_expiry",
         "seed": "seed", "retry_after": "retry_after"}


@dataclass
class FaultSpec:
    rate_429: float = 0.0
    rate_503: float = 0.0
    drop: float = 0.0
    token_expiry: float | None = None  # seconds after which any token stops working
    seed: int = 0
    retry_after: int = 1

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Read `429=0.1,503=0.05,drop=0.02,token_expiry=20,seed=7,retry_after=1`."""
        out = cls()
        if not spec:
            return out
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or key not in _KEYS:
                raise ValueError(f"fault {part.strip()!r} not understood; use KEY=VALUE with KEY "
                                 f"one of {', '.join(_KEYS)} (e.g. 429=0.1,503=0.05,seed=7)")
            name = _KEYS[key]
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"fault {key}: {value.strip()!r} is not a number") from None
            if name.startswith("rate_") or name == "drop":
                if not 0 <= number <= 1:
                    raise ValueError(f"fault {key}: {number} is not a share between 0 and 1")
            elif number < 0:
                raise ValueError(f"fault {key}: must not be negative")
            setattr(out, name, int(number) if name in ("seed", "retry_after") else number)
        if out.rate_429 + out.rate_503 + out.drop > 1:
            raise ValueError("fault shares 429 + 503 + drop add up to more than 1")
        return out

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                        if getattr(self, f.name) not in (None, 0, 0.0))

    @property
    def active(self) -> bool:
        return bool(self.rate_429 or self.rate_503 or self.drop)


class FaultInjector:
    """Pure ASGI middleware: adds latency and faults in front of the app it wraps."""

    def __init__(self, app: Any, spec: FaultSpec, latency_ms: float = 0.0):
        self.app = app
        self.spec = spec
        self.latency = latency_ms / 1000.0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def draw(self, key: str) -> str | None:
        if not self.spec.active:
            return None
        with self._lock:
            self._seen[key] += 1
            n = self._seen[key]
        digest = hashlib.blake2b(f"{self.spec.seed}|{key}|{n}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        s = self.spec
        if u < s.rate_429:
            return "429"
        if u < s.rate_429 + s.rate_503:
            return "503"
        if u < s.rate_429 + s.rate_503 + s.drop:
            return "drop"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        key = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}"
        fault = self.draw(key)
        if fault in ("429", "503"):
            status = int(fault)
            detail = ("Too many requests; retry later." if status == 429
                      else "Secret Server service unavailable.")
            body = orjson.dumps(ScimError(status, detail).body())
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/scim+json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.spec.retry_after).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if fault == "drop":
            # Promise a body, send part of it, and stop: the client sees the connection close.
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/scim+json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"schemas":', "more_body": True})
            raise ConnectionAbortedError("sandbox fault: connection dropped on purpose")
        await self.app(scope, receive, send)


class ServerTiming:
    """Pure ASGI middleware: `Server-Timing: app;dur=<ms>` on every response, the time the
    wrapped app took until it started answering (what the benchmarks read)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={ms:.3f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed_send)
