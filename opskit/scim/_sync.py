"""Blocking entry points over the async client, usable inside Jupyter's running loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


def run_sync(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, also from inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="opskit-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
