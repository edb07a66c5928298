"""Nested groups, expanded: every user a group reaches, with the chain of groups in between."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LimitExceeded
from ..limits import env_limit

VIA_SEPARATOR = " > "
# Every (group, group nested in it) pair is a row whose `via` names the chain between them, so
# a chain n deep costs n² rows and n³ characters: a 1,000-deep chain took 4 GB. Real directories
# nest a handful of levels; past this many the tenant's data is refused, not expanded.
MAX_NESTING_DEPTH = 64
NESTING_DEPTH_ENV = "OPSKIT_MAX_GROUP_NESTING"


def max_nesting_depth() -> int:
    """The deepest group nesting expanded: MAX_NESTING_DEPTH unless OPSKIT_MAX_GROUP_NESTING
    says otherwise."""
    return env_limit(NESTING_DEPTH_ENV, MAX_NESTING_DEPTH, "levels")


def _too_deep(via: str, limit: int) -> LimitExceeded:
    names = via.split(VIA_SEPARATOR)
    chain = VIA_SEPARATOR.join([*names[:3], "…", *names[-2:]]) if len(names) > 6 else via
    return LimitExceeded(f"groups nest more than {limit} levels deep ({chain}, {len(names)} "
                         "groups)", NESTING_DEPTH_ENV, f"flatten the nesting in the directory, "
                         f"or raise the limit with {NESTING_DEPTH_ENV}={limit * 2} "
                         "(docs/audit.md)")


@dataclass(frozen=True)
class GroupReach:
    """Who each group reaches, through nested groups; cycle-safe.

    ``groups`` holds one row per group (``id``, ``displayName``), its position is the group's
    code. ``nesting`` has one row per (group, group it contains at any depth, itself included):
    ``group``, ``member_group`` (codes), ``via`` (displayName path from ``group`` down to
    ``member_group``) and ``depth``. ``users`` has one row per (group, user it reaches):
    ``group`` (code), ``user_id``, ``via`` (displayName path down to the group that lists the
    user directly) and ``depth``; a user reached along several chains keeps the shortest.
    """

    groups: pd.DataFrame
    nesting: pd.DataFrame
    users: pd.DataFrame

    def code_of(self) -> dict[str, int]:
        return {g: i for i, g in enumerate(self.groups["id"].tolist())}


def expand_groups(groups: pd.DataFrame, group_members: pd.DataFrame) -> GroupReach:
    """Expand nesting transitively, one level per round, joining on integer codes.

    A pair (group, member group) is kept once, at its first (shortest) depth, so a cycle ends
    the walk instead of looping, and diamonds do not multiply rows. Nesting deeper than
    :func:`max_nesting_depth` raises a LimitExceeded naming one such chain.
    """
    limit = max_nesting_depth()
    listed = groups[["id", "displayName"]].drop_duplicates("id").reset_index(drop=True)
    gid, kind = group_members["group_id"].tolist(), group_members["member_type"].tolist()
    mid, mdisplay = group_members["member_id"].tolist(), group_members["member_display"].tolist()
    # A member group missing from the groups frame still nests: it gets a code, named by its
    # display, so its users are not lost.
    ids = listed["id"].tolist()
    names_list = [n if isinstance(n, str) else i
                  for i, n in zip(ids, listed["displayName"].tolist(), strict=True)]
    code = {g: i for i, g in enumerate(ids)}
    for m, k, d in zip(mid, kind, mdisplay, strict=True):
        if k == "Group" and m not in code:
            code[m] = len(ids)
            ids.append(m)
            names_list.append(d if isinstance(d, str) else m)
    all_groups = pd.DataFrame({"id": ids, "displayName": names_list})
    names = np.array(names_list, dtype=object)

    pairs = [(code[g], code[m]) for g, m, k in zip(gid, mid, kind, strict=True)
             if k == "Group" and g in code]
    edges = pd.DataFrame(pairs or np.empty((0, 2), dtype=np.int64), columns=["parent", "child"],
                         dtype="int64").drop_duplicates()

    n = len(all_groups)
    frontier = pd.DataFrame({"group": np.arange(n), "member_group": np.arange(n),
                             "via": names.copy(), "depth": np.zeros(n, dtype="int64")})
    parts = [frontier]
    seen = set(zip(frontier["group"], frontier["member_group"], strict=True))
    while len(frontier) and len(edges):
        step = frontier.merge(edges, left_on="member_group", right_on="parent")
        if step.empty:
            break
        step = pd.DataFrame({"group": step["group"].to_numpy(),
                             "member_group": step["child"].to_numpy(),
                             "via": step["via"] + VIA_SEPARATOR + names[step["child"]],
                             "depth": step["depth"].to_numpy() + 1})
        step = step.sort_values(["group", "member_group", "via"]).drop_duplicates(
            ["group", "member_group"])
        keys = list(zip(step["group"], step["member_group"], strict=True))
        fresh = np.fromiter((k not in seen for k in keys), dtype=bool, count=len(keys))
        step = step[fresh]
        seen.update(k for k, f in zip(keys, fresh, strict=True) if f)
        if len(step) and int(step["depth"].iloc[0]) > limit:
            raise _too_deep(str(step["via"].iloc[0]), limit)
        parts.append(step)
        frontier = step
    nesting = pd.concat(parts, ignore_index=True)

    direct = pd.DataFrame([(code[g], m) for g, m, k in zip(gid, mid, kind, strict=True)
                           if k != "Group" and g in code],
                          columns=["member_group", "user_id"]).astype({"member_group": "int64"})
    users = nesting.merge(direct.drop_duplicates(), on="member_group")
    users = users.sort_values(["group", "user_id", "depth", "via"]).drop_duplicates(
        ["group", "user_id"])
    users = users[["group", "user_id", "via", "depth"]].reset_index(drop=True)
    return GroupReach(all_groups, nesting.reset_index(drop=True), users)
