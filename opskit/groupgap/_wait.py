"""Waiting for Platform Groups Sync after the plan is applied (opt-in, bounded).

The groups the plan created or changed that Secret Server lacks are looked up in Secret
Server's view (an on-prem profile) by exact name, again and again, until each is there or the
wait's bound passes. Only those groups are read, never the whole view, so a wait of minutes
costs a few small requests per poll.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from ..config import Endpoint
from ..errors import ConfigError, OpskitError
from ..scim import ScimClient, filters, run_sync
from ._sync import duration_text

MAX_WAIT_MINUTES = 24 * 60  # a day: longer than any sensible wait inside one report


@dataclass(frozen=True)
class SyncWait:
    """One group waited for: whether Secret Server showed it within the wait, after how many
    seconds (or the whole wait), and what to do next."""

    group: str
    synced: bool
    waited: float
    next_step: str
    unchecked: str | None = None  # why Secret Server could not be asked (not synced then)

    @property
    def outcome(self) -> str:
        if self.synced:
            return f"synced: in Secret Server after {duration_text(self.waited)}"
        if self.unchecked:
            return f"could not check: {self.unchecked}"
        return f"still missing after {duration_text(self.waited)}"


def check_wait(minutes: float) -> float:
    """The wait's bound in seconds; a bound that is not a number of minutes is refused."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) \
            or not 0 <= minutes <= MAX_WAIT_MINUTES:
        raise ConfigError(f"wait_for_sync_minutes must be a number of minutes from 0 to "
                          f"{MAX_WAIT_MINUTES}, not {minutes!r}",
                          "give how long to wait for Secret Server after applying (0: do not "
                          "wait); the sync interval bounds what is worth waiting for")
    return float(minutes) * 60


def poll_interval(bound: float) -> float:
    """How often to look: twenty looks within the bound, at least every 30 s."""
    return min(30.0, max(0.05, bound / 20))


@dataclass
class Lookups:
    """What a wait saw: group → seconds until Secret Server showed it (None: it never did), and
    why it stopped asking before the bound (None: it did not)."""

    seen: dict[str, float | None]
    failure: str | None = None


def wait_for_groups(view: Endpoint, groups: list[str], bound: float,
                    poll: float | None = None) -> Lookups:
    """Look for each group by name in Secret Server's view until all are there or ``bound``
    seconds pass. A lookup that fails (after a few attempts, never past the bound) ends the
    wait: the failure is returned, not raised, since the plan was applied before it."""
    if view.flavor != "onprem":
        raise ConfigError(f"profile {view.name!r} is not Secret Server's view",
                          "give an on-prem profile as the reference to wait for the sync")
    poll = poll_interval(bound) if poll is None else poll
    result = Lookups(dict.fromkeys(groups))
    seen = result.seen
    # The profile's limits allow minutes per request: a wait of seconds would overrun them.
    bounded = replace(view, limits=view.limits.within(bound))

    async def look() -> None:
        started = time.monotonic()
        deadline = started + bound
        async with ScimClient.for_profile(bounded) as client:
            while True:
                for name in [g for g, at in seen.items() if at is None]:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    async with asyncio.timeout(left):
                        found = await client.list("Groups", filters.eq("displayName", name),
                                                  attributes=["id", "displayName"])
                    if any(str(g.get("displayName", "")).casefold() == name.casefold()
                           for g in found):
                        seen[name] = time.monotonic() - started
                left = deadline - time.monotonic()
                if all(at is not None for at in seen.values()) or left <= 0:
                    return
                await asyncio.sleep(min(poll, left))

    try:
        run_sync(look)
    except TimeoutError:
        pass  # the bound passed during a lookup: what was not seen is still missing
    except OpskitError as exc:
        result.failure = exc.message
    return result


# What to do about a group still missing after the wait, by what the report says it is.
NEXT_STEP = {
    "GROUP_SYNC_PENDING": "if it is enabled for sync, wait for the timed sync (its finding "
                          "says by when) and run the report again then; still missing then, "
                          "or needed sooner: select it for sync and click Sync Now (the "
                          "steps under GROUP_NOT_IN_SECRET_SERVER)",
    "GROUP_NOT_IN_SECRET_SERVER": "select it for sync and click Sync Now (the steps under "
                                  "GROUP_NOT_IN_SECRET_SERVER), then run the report again",
    "GROUP_NOT_FOUND_BY_SECRET_SERVER": "not a sync matter: check the Secret Server side, as "
                                        "GROUP_NOT_FOUND_BY_SECRET_SERVER says",
}


def outcomes(looked: Lookups, bound: float, codes: dict[str, str]) -> list[SyncWait]:
    """Each group's outcome: synced after how long, still missing after the whole wait, or not
    checked because a lookup failed, with the next step its finding (``codes``: group →
    finding code) calls for."""
    return [SyncWait(group, at is not None, bound if at is None else at,
                     "none: Secret Server has it" if at is not None else NEXT_STEP.get(
                         codes.get(group, ""), NEXT_STEP["GROUP_NOT_IN_SECRET_SERVER"]),
                     looked.failure if at is None else None)
            for group, at in looked.seen.items()]
