"""Serving the practice tenant with uvicorn: in the foreground, or in a background thread."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from .app import PREFIX, Sandbox
from .faults import FaultSpec
from .oauth import TOKEN_PATH
from .store import Tenant
from .tenantfile import TenantFile, load_tenant

LOOPBACK = "127.0.0.1"


class _DroppedOnPurpose(logging.Filter):
    """Keep uvicorn's log quiet about the connections the drop fault closes on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionAbortedError)


logging.getLogger("uvicorn.error").addFilter(_DroppedOnPurpose())


@dataclass
class RunningSandbox:
    """Where a running practice tenant answers, and its credentials (practice data only)."""

    url: str
    tenant: Tenant
    sandbox: Sandbox

    @property
    def cloud_url(self) -> str:
        return self.url + PREFIX["cloud"]

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def onprem_url(self) -> str:
        return self.url + PREFIX["onprem"]


def bind(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then,
    # and without it Nagle's algorithm and delayed ACKs add ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def _config(app: Any, log_level: str, access_log: bool, **tls: Any) -> uvicorn.Config:
    # A client that never finishes its request does not hold a shutdown more than 2 s.
    return uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="off",
                          timeout_keep_alive=30, timeout_graceful_shutdown=2, loop="asyncio",
                          http="h11", **tls)


@contextmanager
def serving(app: Any, *, log_level: str = "warning", certfile: str | Path | None = None,
            keyfile: str | Path | None = None, name: str = "opskit-server",
            sock: socket.socket | None = None) -> Iterator[str]:
    """Serve any ASGI app in a background thread on `sock` (default: a free loopback port);
    yields its URL."""
    sock = sock or bind()
    port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, log_level, access_log=False, ssl_certfile=certfile,
                                    ssl_keyfile=keyfile))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if certfile else 'http'}://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _tenant(data: TenantFile | str | Path) -> TenantFile:
    return data if isinstance(data, TenantFile) else load_tenant(data)


@contextmanager
def running(data: TenantFile | str | Path, *, faults: FaultSpec | str | None = None,
            latency_ms: float = 0.0, log_level: str = "warning") -> Iterator[RunningSandbox]:
    """Serve a tenant on a free loopback port in a background thread for the block's duration."""
    spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
    tenant = Tenant(_tenant(data))
    sandbox = Sandbox(tenant, faults=spec, latency_ms=latency_ms)
    with serving(sandbox.app, log_level=log_level, name="the practice tenant") as url:
        yield RunningSandbox(url, tenant, sandbox)


def serve_forever(data: TenantFile | str | Path, *, host: str = LOOPBACK, port: int = 8765,
                  faults: FaultSpec | str | None = None, latency_ms: float = 0.0,
                  on_ready: Any = None) -> None:
    """Serve in the foreground until SIGTERM or Ctrl-C (the `opskit sandbox serve` command)."""
    spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
    tenant = Tenant(_tenant(data))
    sandbox = Sandbox(tenant, faults=spec, latency_ms=latency_ms)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    if on_ready is not None:
        on_ready(RunningSandbox(f"http://{host}:{actual}", tenant, sandbox))
    run_forever(sandbox.app, sock)


def run_forever(app: Any, sock: socket.socket) -> None:
    """Serve an ASGI app on ``sock`` in the foreground until SIGTERM or Ctrl-C."""
    server = uvicorn.Server(_config(app, "info", access_log=True))
    # Our own handlers: a stop asked for is a normal exit here. uvicorn (0.29 on) sets its own
    # while it serves and re-raises the signal after shutdown, by then to ours, restored.

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await server.serve(sockets=[sock])

    asyncio.run(main())
