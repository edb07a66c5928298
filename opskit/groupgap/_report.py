"""The group-gap report: every group across the IGA, the Platform and Secret Server, side by side.

Pure pandas over :class:`GroupSource` frames. Groups are matched IGA ↔ Platform and Platform ↔
Secret Server, then what is left of the IGA ↔ what is left of Secret Server (a group the IGA
knows that was made directly in Secret Server). Each resulting row is one group; its gaps
become findings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..config import PlatformGroupsSync
from ..findings import Finding, finding, findings_frame
from ._findings import merged
from ._match import Match, MatchedBy, NameRules, match_groups, name_differences, quoted
from ._sources import GroupSource
from ._sync import SyncCase, sync_state

PRESENCE_COLUMNS = [
    "group", "iga_name", "platform_name", "secret_server_name", "in_iga", "on_platform",
    "in_secret_server", "iga_match", "secret_server_match", "platform_id", "iga_key",
    "secret_server_key", "iga_members",
    "platform_members", "only_in_iga", "only_on_platform", "grants", "codes"]
# platform_id keys the Platform group: two Platform groups may share a displayName.
MEMBERSHIP_COLUMNS = ["group", "platform_name", "platform_id", "user_name", "side"]
GRANT_COLUMNS = ["group", "code", "folder", "right", "seen_in", "permission_id"]
ONLY_IN_IGA, ONLY_ON_PLATFORM = "only in the IGA", "only on the Platform"
_LISTED = 10  # names shown in a message; the frames hold them all
# How a matched pair of groups may match without their names being equal.
_NOT_EXACT: tuple[MatchedBy, ...] = ("external id", "normalised")


@dataclass
class _Row:
    iga: str | None = None  # keys in each system
    platform: str | None = None
    ss: str | None = None
    iga_match: MatchedBy | None = None
    ss_match: MatchedBy | None = None


@dataclass
class GroupGapReport:
    """The result of :func:`group_gap`.

    ``presence``: one row per group with where it exists (``in_iga``, ``on_platform``,
    ``in_secret_server``; NA where that source was not given), how it was matched, member
    counts and its finding codes. ``membership``: one row per member that differs
    (``side`` is 'only in the IGA' or 'only on the Platform'). ``affected_grants``: folder
    permissions naming a group that is missing from Secret Server or from the Platform.
    """

    presence: pd.DataFrame
    membership: pd.DataFrame
    affected_grants: pd.DataFrame
    findings: list[Finding]
    platform: GroupSource
    iga: GroupSource | None = None
    secret_server: GroupSource | None = None
    rules: NameRules = field(default_factory=NameRules)
    notes: list[str] = field(default_factory=list)
    sync: PlatformGroupsSync = field(default_factory=PlatformGroupsSync)

    def findings_frame(self) -> pd.DataFrame:
        return findings_frame(self.findings)

    @property
    def metrics(self) -> dict[str, Any]:
        """Counts for results.json: groups per system, findings per code."""
        counts: dict[str, int] = defaultdict(int)
        for f in self.findings:
            counts[f.code] += 1
        return {"groups": {s.system: len(s.groups) for s in
                           (self.iga, self.platform, self.secret_server) if s is not None},
                "rows": len(self.presence), "findings": dict(counts)}


def _pairs(matches: list[Match]) -> tuple[dict[str, Match], dict[str, Match]]:
    return {m.left: m for m in matches}, {m.right: m for m in matches}


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return f"[{shown}, … {len(names) - _LISTED} more]" if len(names) > _LISTED else f"[{shown}]"


def _rows(platform: GroupSource, iga: GroupSource | None, ss: GroupSource | None,
          rules: NameRules) -> list[_Row]:
    by_platform_iga = _pairs(match_groups(platform.groups, iga.groups, rules))[0] if iga else {}
    by_platform_ss = _pairs(match_groups(platform.groups, ss.groups, rules))[0] if ss else {}
    rows = [_Row(iga=by_platform_iga[k].right if k in by_platform_iga else None, platform=k,
                 ss=by_platform_ss[k].right if k in by_platform_ss else None,
                 iga_match=by_platform_iga[k].how if k in by_platform_iga else None,
                 ss_match=by_platform_ss[k].how if k in by_platform_ss else None)
            for k in platform.groups["key"]]
    iga_left = (iga.groups[~iga.groups["key"].isin({r.iga for r in rows})]
                if iga else None)
    ss_left = ss.groups[~ss.groups["key"].isin({r.ss for r in rows})] if ss else None
    # What neither matched to a Platform group: an IGA group may still exist in Secret Server.
    by_iga_ss: dict[str, Match] = {}
    if iga_left is not None and ss_left is not None:
        by_iga_ss = _pairs(match_groups(iga_left, ss_left, rules))[0]
    if iga_left is not None:
        rows += [_Row(iga=k, ss=by_iga_ss[k].right if k in by_iga_ss else None,
                      ss_match=by_iga_ss[k].how if k in by_iga_ss else None)
                 for k in iga_left["key"]]
    if ss_left is not None:
        taken = {m.right for m in by_iga_ss.values()}
        rows += [_Row(ss=k) for k in ss_left["key"] if k not in taken]
    return rows


def _member_sets(source: GroupSource) -> dict[str, dict[str, str]]:
    """group key → {case-folded userName: userName as spelt}."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for key, user in zip(source.members["key"], source.members["user_name"], strict=True):
        if isinstance(user, str) and user:
            out[key].setdefault(user.casefold(), user)
    return out


def _names(source: GroupSource | None) -> dict[str, str]:
    if source is None:
        return {}
    return dict(zip(source.groups["key"], source.groups["name"], strict=True))


def _mismatch_text(a_name: str, a_system: str, b_name: str, b_system: str, how: MatchedBy,
                   rules: NameRules, external_id: Any) -> str:
    if how == "external id":
        return (f"{a_system} name {quoted(a_name)} and {b_system} group {quoted(b_name)} match "
                f"only by external id {external_id!r}, not by name")
    diffs = " and ".join(name_differences(a_name, b_name, rules))
    return (f"{a_system} name {quoted(a_name)} matches {b_system} group {quoted(b_name)} only "
            f"after normalising {diffs}")


class _Grants:
    """Folder permissions naming a group, from the Platform's and Secret Server's views."""

    def __init__(self, platform: GroupSource, ss: GroupSource | None):
        self.views = [(platform.system, platform.grants)]
        if ss is not None:
            self.views.append((ss.system, ss.grants))
        self.by_id = {system: g["principal_id"].value_counts().to_dict()
                      for system, g in self.views}

    def count(self, row: _Row) -> int:
        if row.platform is not None:
            return int(self.by_id["Platform"].get(row.platform, 0))
        if row.ss is not None and "Secret Server" in self.by_id:
            return int(self.by_id["Secret Server"].get(row.ss, 0))
        return 0

    def naming(self, keys: dict[str, str | None], names: set[str]) -> pd.DataFrame:
        """Grants naming the group by its id in that system, or by any of its names."""
        found = []
        for system, g in self.views:
            hit = g["principal_name"].isin(names)
            if keys.get(system) is not None:
                hit |= g["principal_id"] == keys[system]
            found.append(g[hit].assign(seen_in=system))
        out = pd.concat(found, ignore_index=True)
        return out.drop_duplicates(["folder", "right", "principal_name"])


_GRANT_CONSEQUENCE = {
    "GROUP_NOT_IN_SECRET_SERVER": "folder permissions name it although Secret Server lacks it, "
                                  "so these grants fail or do not take effect until it is "
                                  "synced",
    "GROUP_SYNC_PENDING": "folder permissions name it although Secret Server lacks it, so "
                          "these grants do not take effect until the timed sync brings it",
    "GROUP_NOT_FOUND_BY_SECRET_SERVER": "folder permissions name it although the Secret "
                                        "Server side lacks it",
    "GROUP_NOT_ON_PLATFORM": "folder permissions in Secret Server name a group of this name "
                             "that the Platform, and so the IGA, cannot manage",
    "GROUP_ONLY_IN_SECRET_SERVER": "folder permissions name it, but neither the Platform nor "
                                   "the IGA can manage who is in it",
}


# Which finding a Platform group missing from Secret Server is, by the sync case that explains it.
_MISSING_CODE: dict[SyncCase, str] = {
    "searched directly": "GROUP_NOT_FOUND_BY_SECRET_SERVER", "pending": "GROUP_SYNC_PENDING",
    "overdue": "GROUP_NOT_IN_SECRET_SERVER", "unknown": "GROUP_NOT_IN_SECRET_SERVER"}


def group_gap(platform: GroupSource, *, iga: GroupSource | None = None,
              secret_server: GroupSource | None = None,
              rules: NameRules | None = None, sync: PlatformGroupsSync | None = None,
              now: datetime | None = None) -> GroupGapReport:
    """Compare the Platform's groups with the IGA's and Secret Server's; report every gap.

    Leave out ``iga`` or ``secret_server`` to skip the findings that need it. ``sync`` says how
    the tenant's Platform groups reach Secret Server (default: a timer of one day, no direct
    search); with when each group was created on the Platform and ``now`` (default: the time
    now) it tells a group the timer may still bring from one that needs a manual sync.
    """
    rules = rules or NameRules()
    sync = sync or PlatformGroupsSync()
    now = now or datetime.now(UTC)
    created = ({k: v for k, v in zip(platform.groups["key"], platform.groups["created"],
                                     strict=True) if isinstance(v, datetime)}
               if "created" in platform.groups else {})
    if platform.system != "Platform" or (iga and iga.system != "IGA") or (
            secret_server and secret_server.system != "Secret Server"):
        raise ValueError("pass the Platform, IGA and Secret Server sources to their own "
                         "arguments")
    ss = secret_server
    names = {"IGA": _names(iga), "Platform": _names(platform), "Secret Server": _names(ss)}
    ext = {"IGA": dict(zip(iga.groups["key"], iga.groups["external_id"], strict=True))
           if iga else {}}
    iga_members = _member_sets(iga) if iga else {}
    platform_members = _member_sets(platform)
    grants = _Grants(platform, ss)
    found: list[Finding] = []
    presence: list[dict[str, Any]] = []
    membership: list[dict[str, Any]] = []
    affected: list[pd.DataFrame] = []
    for row in _rows(platform, iga, ss, rules):
        iga_name = names["IGA"].get(row.iga) if row.iga else None
        p_name = names["Platform"].get(row.platform) if row.platform else None
        ss_name = names["Secret Server"].get(row.ss) if row.ss else None
        label = p_name or iga_name or ss_name or ""
        here: list[Finding] = []
        missing: list[Finding] = []  # the findings a grants note belongs to
        only_iga: list[str] = []
        only_platform: list[str] = []
        if p_name is not None:
            if ss is not None and ss_name is None:
                state = sync_state(created.get(row.platform), sync, now)
                missing.append(finding(
                    _MISSING_CODE[state.case], p_name,
                    f"Platform group {quoted(p_name)} is not in Secret Server: "
                    + state.said(sync, now)))
            if iga is not None and iga_name is None:
                here.append(finding(
                    "GROUP_NOT_IN_IGA", p_name,
                    f"Platform group {quoted(p_name)} is not in the IGA export: made by hand or "
                    "removed from the IGA, so nobody reviews its membership"))
            if iga_name is not None and row.iga_match in _NOT_EXACT:
                here.append(finding("GROUP_NAME_MISMATCH", iga_name, _mismatch_text(
                    iga_name, "the IGA's", p_name, "Platform", row.iga_match, rules,
                    ext["IGA"].get(row.iga))))
            if ss_name is not None and row.ss_match in _NOT_EXACT:
                here.append(finding("GROUP_NAME_MISMATCH", ss_name, _mismatch_text(
                    ss_name, "Secret Server's", p_name, "Platform", row.ss_match, rules,
                    None)))
            # A name is found only under its key, so the keys are set: said for mypy.
            if iga_name is not None and row.iga is not None and row.platform is not None:
                mine = iga_members.get(row.iga, {})
                theirs = platform_members.get(row.platform, {})
                only_iga = sorted(mine[k] for k in mine.keys() - theirs.keys())
                only_platform = sorted(theirs[k] for k in theirs.keys() - mine.keys())
                if only_iga or only_platform:
                    here.append(finding(
                        "GROUP_MEMBERSHIP_DIFFERS", iga_name,
                        f"direct user members differ from Platform group {quoted(p_name)}: only in "
                        f"the IGA {_listed(only_iga)}, only on the Platform "
                        f"{_listed(only_platform)}"))
                    membership += [{"group": iga_name, "platform_name": p_name,
                                    "platform_id": row.platform, "user_name": u,
                                    "side": ONLY_IN_IGA} for u in only_iga]
                    membership += [{"group": iga_name, "platform_name": p_name,
                                    "platform_id": row.platform, "user_name": u,
                                    "side": ONLY_ON_PLATFORM} for u in only_platform]
        elif iga_name is not None:
            where = (f"; Secret Server has a group {quoted(ss_name)} made there directly"
                     if ss_name is not None else "")
            missing.append(finding(
                "GROUP_NOT_ON_PLATFORM", iga_name,
                f"IGA group {quoted(iga_name)} has no Platform group, even after normalising its "
                f"name: never provisioned{where}"))
            if ss_name is not None and row.ss_match in _NOT_EXACT:
                here.append(finding("GROUP_NAME_MISMATCH", iga_name, _mismatch_text(
                    iga_name, "the IGA's", ss_name, "Secret Server", row.ss_match, rules,
                    ext["IGA"].get(row.iga))))
        elif ss_name is not None:
            known = " nor in the IGA export" if iga is not None else ""
            missing.append(finding(
                "GROUP_ONLY_IN_SECRET_SERVER", ss_name,
                f"Secret Server group {quoted(ss_name)} is not on the Platform{known}: made "
                "directly in Secret Server"))
        n_grants = grants.count(row)
        if missing:
            keys = {"Platform": row.platform, "Secret Server": row.ss}
            hits = grants.naming(keys, {n for n in (p_name, iga_name, ss_name) if n})
            n_grants = max(n_grants, len(hits))
            for i, f in enumerate(missing):
                if len(hits):
                    listed = [f"{fo} ({r})" for fo, r in zip(hits["folder"], hits["right"],
                                                             strict=True)]
                    missing[i] = finding(f.code, f.subject,
                                         f"{f.message}. Note: {_GRANT_CONSEQUENCE[f.code]}: "
                                         f"{_listed(listed)}")
                    affected.append(hits.assign(group=f.subject, code=f.code))
        here = missing + here
        found += here
        presence.append({
            "group": label, "iga_name": iga_name, "platform_name": p_name,
            "secret_server_name": ss_name,
            "in_iga": pd.NA if iga is None else iga_name is not None,
            "on_platform": p_name is not None,
            "in_secret_server": pd.NA if ss is None else ss_name is not None,
            "iga_match": row.iga_match,
            "secret_server_match": row.ss_match, "platform_id": row.platform,
            "iga_key": row.iga, "secret_server_key": row.ss,
            "iga_members": len(iga_members.get(row.iga, {})) if row.iga else None,
            "platform_members": (len(platform_members.get(row.platform, {}))
                                 if row.platform else None),
            "only_in_iga": len(only_iga), "only_on_platform": len(only_platform),
            "grants": n_grants, "codes": sorted({f.code for f in here})})
    frame = pd.DataFrame(presence, columns=PRESENCE_COLUMNS)
    for column in ("in_iga", "on_platform", "in_secret_server"):
        frame[column] = frame[column].astype("boolean")
    for column in ("iga_members", "platform_members"):
        frame[column] = frame[column].astype("Int64")
    grants_frame = (pd.concat(affected, ignore_index=True)[GRANT_COLUMNS] if affected
                    else pd.DataFrame(columns=GRANT_COLUMNS))
    notes = [n for s in (platform, iga, ss) if s is not None for n in s.notes]
    return GroupGapReport(frame, pd.DataFrame(membership, columns=MEMBERSHIP_COLUMNS),
                          grants_frame, merged(found), platform, iga, ss, rules, notes, sync)
