"""How far opskit lets a server go: time budgets and size ceilings, per profile.

A server that never answers, dribbles a byte at a time, inflates a small gzip body to gigabytes
or pages forever must not hold a scheduled report forever or crash it. Every request, answer and
listing is bounded; the defaults suit a large real tenant, and a profile raises or lowers any of
them in a ``[profiles.NAME.limits]`` table (docs/profiles.md#limits).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError

MB = 1 << 20
# JSON from a server is read with orjson, which refuses nesting past 1,024 levels as unreadable
# (a fixed limit of its own) instead of recursing: no setting here.


@dataclass(frozen=True)
class Limits:
    """Time budgets (seconds) and size ceilings for one profile's requests."""

    connect_timeout: float = 10.0  # opening a connection (TCP and TLS)
    request_timeout: float = 60.0  # one attempt: from sending to the last byte of the body
    retry_budget: float = 120.0  # one request: every attempt and every wait between them
    max_attempts: int = 10  # one request
    listing_timeout: float = 3600.0  # one whole listing (every page of Users, say)
    max_body_mb: float = 64.0  # one answer, as decompressed
    max_total_results: int = 10_000_000  # resources one listing may hold

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MB)

    def first_contact(self) -> Limits:
        """For a check that should say "unreachable" in seconds rather than minutes: three
        attempts within 30 s (or less, where the profile says less)."""
        return replace(self, max_attempts=min(3, self.max_attempts),
                       retry_budget=min(30.0, self.retry_budget))

    def within(self, seconds: float) -> Limits:
        """For requests inside a wait that must end after ``seconds``: first contact's attempts,
        and no timeout or budget longer than the wait itself."""
        first, cap = self.first_contact(), max(seconds, 0.001)
        return replace(first, connect_timeout=min(cap, first.connect_timeout),
                       request_timeout=min(cap, first.request_timeout),
                       retry_budget=min(cap, first.retry_budget),
                       listing_timeout=min(cap, first.listing_timeout))


DEFAULT = Limits()
_INTEGERS = {"max_attempts", "max_total_results"}


def parse_limits(raw: Any, where: str) -> Limits:
    """A profile's ``limits`` table; every key optional, every value a positive number."""
    if raw is None:
        return DEFAULT
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table", "write it as [profiles.NAME.limits] with "
                          "keys such as request_timeout = 60 (docs/profiles.md#limits)")
    known = {f.name: f for f in fields(Limits)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}",
                          f"limits are {', '.join(known)} (docs/profiles.md#limits)")
    values: dict[str, Any] = {}  # int or float, as each limit wants: checked below
    for key, value in raw.items():
        integer = key in _INTEGERS
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{where}.{key} is {value!r}", f"give {kind} above 0 (default "
                              f"{getattr(DEFAULT, key)})")
        values[key] = value if integer else float(value)
    return replace(DEFAULT, **values)


def env_limit(name: str, default: int, unit: str) -> int:
    """A limit of local input that a user raises through the environment (each documented
    where it applies): the whole number ``name`` sets, else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw[:40]!r} is not a number of {unit}",
                          f"set it to a whole number such as {default}, or unset it")
    return int(raw)
