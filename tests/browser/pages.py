"""What a page did, watched from its first request: console errors, uncaught exceptions and every
request that would leave the machine; and the screenshots a person looks at afterwards."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHOTS = Path(__file__).parent.parent.parent / "build" / "browser"  # git-ignored, as build/ is
# An http(s) or ws(s) address not on this machine. A pattern, not a Python predicate: Playwright
# then matches in its driver, and only these requests come back to this process.
OUTSIDE = re.compile(r"^(?:http|ws)s?://(?!(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/)", re.I)


@dataclass
class Watched:
    """A page's console errors, uncaught exceptions and requests to other machines (never
    sent: each is aborted, and listed here; file:, data: and blob: addresses stay local)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.route(OUTSIDE, self._refuse)
        self.page.on("websocket", lambda ws: OUTSIDE.match(ws.url) and self.outside.append(ws.url))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _refuse(self, route: Any) -> None:
        self.outside.append(route.request.url)
        route.abort()


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
