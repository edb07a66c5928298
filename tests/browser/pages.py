"""What a page did, watched from its first request: console errors, uncaught exceptions and every
request that would leave the machine; and the screenshots a person looks at afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SHOTS = Path(__file__).parent.parent.parent / "build" / "browser"  # git-ignored, as build/ is
LOCAL_SCHEMES = {"file", "data", "blob", "about"}  # never a request to another machine
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def leaves_the_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in LOCAL_SCHEMES and parts.hostname not in LOOPBACK


@dataclass
class Watched:
    """A page's console errors, uncaught exceptions and requests to other machines (which the
    page is never allowed to make: they are answered with an abort, and listed here)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.route("**/*", self._route)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _route(self, route: Any) -> None:
        url = route.request.url
        if leaves_the_machine(url):
            self.outside.append(url)
            route.abort()
        else:
            route.continue_()


def watch(browser: Any, **context: Any) -> Watched:
    """A new page in a context of its own (its own cookies), watched from its first request."""
    page = browser.new_context(viewport={"width": 1440, "height": 900}, **context).new_page()
    page.set_default_timeout(20_000)
    return Watched(page)


def shot(page: Any, step: str, *, full_page: bool = False) -> Path:
    """build/browser/STEP.png: what the page shows at this step."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{step}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
