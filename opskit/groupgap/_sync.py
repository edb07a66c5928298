"""Platform Groups Sync: why Secret Server lacks a Platform group, and whether that will pass.

Pure: when a group was created on the Platform (``meta.created``), the tenant's sync settings
(:class:`~opskit.config.PlatformGroupsSync`) and the time now decide which of Delinea's cases
applies:

- the tenant's Secret Server searches Platform groups directly (new Platform customers): no
  sync is needed, so a missing group is not a sync matter;
- the group was created within one sync interval: no timed run has had the chance to bring it
  yet, and one will if it is among the groups enabled for sync;
- it was created longer ago: the timer has had its chance and not brought it, so it is not
  enabled for sync (or the sync failed), and an administrator must select it and click Sync Now.

Creation, not the last save: only enabled platform groups sync, whatever is saved, and an IGA
changes a governed group's members often; counting from ``meta.lastModified`` would keep such a
group "pending" for as long as its membership keeps changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..config import PlatformGroupsSync

SyncCase = Literal["searched directly", "pending", "overdue", "unknown"]


def created_at(created: Any) -> datetime | None:
    """When the group was created on the Platform (a time without a zone is taken as UTC); None
    when the Platform sent no readable ``meta.created``."""
    if not isinstance(created, str) or not created:
        return None
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SyncState:
    """Which case explains a Platform group missing from Secret Server, with its times."""

    case: SyncCase
    created: datetime | None = None
    due: datetime | None = None  # when the timer has run once since the group was created

    def said(self, settings: PlatformGroupsSync, now: datetime) -> str:
        """The case in words, for a finding's message."""
        interval = interval_text(settings)
        if self.case == "searched directly":
            return ("this tenant's Secret Server searches Platform groups directly, so no sync "
                    "is needed: its absence is not a sync matter")
        if self.case == "unknown" or self.created is None:
            return ("the Platform sent no meta.created for it, so whether the timed sync "
                    f"({interval}) has had its chance to bring it cannot be told: it may need "
                    "a manual sync")
        ago = duration_text((now - self.created).total_seconds())
        if self.case == "pending":
            return (f"it was created on the Platform {ago} ago ({when(self.created)}), within "
                    f"the sync interval ({interval}): if it is among the groups enabled for "
                    f"sync, the timed Platform Groups Sync brings it by "
                    f"{when(self.due or self.created)}; if it is still missing then, select it "
                    "for sync and click Sync Now")
        return (f"it was created on the Platform {ago} ago ({when(self.created)}), longer ago "
                f"than the sync interval ({interval}), and the timed sync has not brought it "
                "(only groups enabled for sync are synced): select it for sync, then Sync Now")


def sync_state(created: datetime | None, settings: PlatformGroupsSync,
               now: datetime) -> SyncState:
    """The case for a Platform group missing from Secret Server, created at ``created``."""
    if settings.platform_groups_searched_directly:
        return SyncState("searched directly", created)
    if created is None:
        return SyncState("unknown")
    due = created + timedelta(hours=settings.interval_hours)
    return SyncState("pending" if now < due else "overdue", created, due)


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
