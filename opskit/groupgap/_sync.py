"""Platform Groups Sync: why Secret Server lacks a Platform group, and whether that will pass.

Pure: a group's last save on the Platform (``meta.lastModified``, else ``meta.created``), the
tenant's sync settings (:class:`~opskit.config.PlatformGroupsSync`) and the time now decide
which of Delinea's cases applies:

- the tenant's Secret Server searches Platform groups directly (new Platform customers): no
  sync is needed, so a missing group is not a sync matter;
- the group was saved within one sync interval: the timer brings it by itself;
- it was saved longer ago: the timer has not brought it, and an administrator must select it
  and click Sync Now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..config import PlatformGroupsSync

SyncCase = Literal["searched directly", "pending", "overdue", "unknown"]


def saved_at(created: Any, last_modified: Any) -> datetime | None:
    """When the group was last saved on the Platform: the later of its meta times (a time
    without a zone is taken as UTC); None when the Platform sent neither in a readable form."""
    times = []
    for value in (created, last_modified):
        if isinstance(value, str) and value:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            times.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return max(times, default=None)


@dataclass(frozen=True)
class SyncState:
    """Which case explains a Platform group missing from Secret Server, with its times."""

    case: SyncCase
    saved: datetime | None = None
    due: datetime | None = None  # when the timer has run once since the save

    def said(self, settings: PlatformGroupsSync, now: datetime) -> str:
        """The case in words, for a finding's message."""
        interval = interval_text(settings)
        if self.case == "searched directly":
            return ("this tenant's Secret Server searches Platform groups directly, so no sync "
                    "is needed: its absence is not a sync matter")
        if self.case == "unknown" or self.saved is None:
            return ("the Platform sent no meta.lastModified or meta.created for it, so whether "
                    f"the timed sync ({interval}) will still bring it cannot be told: it may "
                    "need a manual sync")
        ago = duration_text((now - self.saved).total_seconds())
        if self.case == "pending":
            return (f"it was saved on the Platform {ago} ago ({when(self.saved)}), within the "
                    f"sync interval ({interval}), so Platform Groups Sync brings it by itself "
                    f"by {when(self.due or self.saved)}")
        return (f"it was last saved on the Platform {ago} ago ({when(self.saved)}), longer ago "
                f"than the sync interval ({interval}), so the timed sync has not brought it: "
                "select it for sync, then Sync Now")


def sync_state(saved: datetime | None, settings: PlatformGroupsSync,
               now: datetime) -> SyncState:
    """The case for a Platform group missing from Secret Server, last saved at ``saved``."""
    if settings.platform_groups_searched_directly:
        return SyncState("searched directly", saved)
    if saved is None:
        return SyncState("unknown")
    due = saved + timedelta(hours=settings.interval_hours)
    return SyncState("pending" if now < due else "overdue", saved, due)


def interval_text(settings: PlatformGroupsSync) -> str:
    text = f"every {duration_text(settings.interval_hours * 3600)}"
    if not settings.given:
        text += (", assumed: give the tenant's own as the profile's "
                 "platform_groups_sync.interval_hours")
    return text


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_text(seconds: float) -> str:
    """A duration as people say it: '45 s', '12 min', '3 h 5 min', '2 d 4 h'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")
