"""Effective access held factorised answers as the whole table would, on random tenants.

The proof: small random tenant files (nested groups, several chains to one user, folders
inheriting or not, grants of several rights to users and groups), served by the practice tenant and
inventoried over HTTP; every answer of :class:`opskit.audit.Access` (counts, slices, chunks,
who reaches a folder, what a user reaches, the strongest right, the what-if's difference) is
compared with a brute-force expansion of the tenant FILE here: plain loops over every user and
every folder, sharing no code with the audit.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pandas as pd
import pytest

from opskit import audit
from opskit.audit import RIGHTS

from .test_whatif import SA, _paths, edit_tenant, random_change, random_tenant, serve

__all__ = ["serve"]  # the fixture, used by name

Row = tuple[str, str, str, str]  # user, folder, right, via


def brute_force(data: dict[str, Any]) -> list[Row]:
    """Every (user, folder, right, via) row, by walking the file: each folder takes the grants
    of the folder it inherits from; a group grant reaches every user the group holds at any
    depth, named by its shortest chain of groups (the first in name order among equals)."""
    users = {u["id"]: u["userName"] for u in data["users"]}
    groups = {g["id"]: g for g in data["groups"]}
    folders = {f["id"]: f for f in data["folders"]}
    paths = _paths(data)

    def reached(gid: str) -> dict[str, str]:
        best: dict[str, tuple[int, str]] = {}
        stack = [(gid, groups[gid]["displayName"], 0, {gid})]
        while stack:
            g, via, depth, seen = stack.pop()
            for m in groups[g]["members"]:
                if m in groups and m not in seen:
                    stack.append((m, f"{via} > {groups[m]['displayName']}", depth + 1,
                                  seen | {m}))
                elif m in users and (m not in best or (depth, via) < best[m]):
                    best[m] = (depth, via)
        return {users[u]: via for u, (_, via) in best.items()}

    def source(fid: str) -> str:
        while folders[fid]["parent"] is not None and \
                folders[fid].get("inherit_permissions") is not False:
            fid = folders[fid]["parent"]
        return fid

    rows = []
    for fid in folders:
        for p in data["permissions"]:
            if p["folder"] != source(fid):
                continue
            right = p["rights"][0]
            if "user" in p:
                rows.append((users[p["user"]], paths[fid], right, "direct"))
            else:
                rows += [(u, paths[fid], right, via) for u, via in reached(p["group"]).items()]
    return rows


def tenant(seed: int) -> dict[str, Any]:
    rng = random.Random(f"factorised/{seed}")
    data = random_tenant(rng)
    for u in data["users"]:  # disabled users are the connectors' business, tested elsewhere
        u["active"] = True
    first, last = data["groups"][0], data["groups"][-1]
    if first is not last and last["id"] not in first["members"] and rng.random() < 0.5:
        first["members"].append(last["id"])  # often a second, shorter chain to the same users
    return data


def listed(frame: pd.DataFrame, columns: tuple[str, ...] = ("user", "folder", "right", "via")
           ) -> list[tuple[str, ...]]:
    return sorted(zip(*(frame[c].astype(str) for c in columns), strict=True))


RANK = {r: i for i, r in enumerate(RIGHTS)}


def strongest_of(rows: list[Row]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(user, folder) → (the highest right, every via giving it)."""
    best: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for u, f, r, via in rows:
        have = best.get((u, f))
        if have is None or RANK[r] > RANK[have[0]]:
            best[u, f] = (r, {via})
        elif r == have[0]:
            have[1].add(via)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_every_answer_equals_the_brute_force_expansion(serve: Any, seed: int) -> None:
    data = tenant(seed)
    cloud, onprem = serve(data)
    access = audit.audit_permissions(cloud, onprem, tenant="acme",
                                     service_account=SA).access
    want = brute_force(data)

    # Counted without expanding.
    assert access.count_rows() == len(want)
    for by, at in (("right", 2), ("folder", 1), ("user", 0)):
        counts = access.count_rows(by)
        assert {k: v for k, v in counts.items() if v} == Counter(r[at] for r in want), by
    assert access.reached("user") == len({r[0] for r in want})
    assert access.reached("folder") == len({r[1] for r in want})

    # Expanded: whole, in chunks, by folder, by user.
    assert listed(access.table) == sorted(want)
    chunks = list(access.chunks(rows=3))
    assert sorted(r for c in chunks for r in listed(c)) == sorted(want)
    seen: set[str] = set()
    for chunk in chunks:  # a folder's rows are never split between chunks
        here = set(chunk["folder"].astype(str))
        assert not here & seen and (len(chunk) <= 3 or len(here) == 1)
        seen |= here
    folders = sorted({f for _, f, _, _ in want})
    some = folders[::2]
    assert listed(access.rows_on(some)) == sorted(r for r in want if r[1] in some)
    best = strongest_of(want)
    for path in access.folders["path"]:
        mine = [r for r in want if r[1] == path]
        got = access.who_reaches(path)
        assert listed(got, ("user", "right", "via")) == sorted((u, r, v) for u, _, r, v in mine)
        order = [(-RANK[r], u) for u, r in zip(got["user"], got["right"].astype(str),
                                                strict=True)]
        assert order == sorted(order)  # strongest right first, then by user
    for name in access.users["userName"]:
        mine = [r for r in want if r[0] == name]
        assert listed(access.what_user_reaches(name), ("folder", "right", "via")) == \
            sorted((f, r, v) for _, f, r, v in mine)
        top = access.what_user_reaches(name, strongest=True)
        assert len(top) == len({f for _, f, _, _ in mine})
        for f, r, via in zip(top["folder"], top["right"].astype(str), top["via"].astype(str),
                             strict=True):
            assert r == best[name, f][0] and via in best[name, f][1]

    # The strongest right of every pair, counted through the folders where grants are set.
    pairs = access.strongest_where_set()
    per_right = pairs.groupby("right")["weight"].sum()
    assert {r: int(n) for r, n in per_right.items() if n} == \
        Counter(r for r, _ in best.values())
    names = access.users["userName"].to_numpy()
    paths = access.folders["path"].to_numpy()
    for u, f, r, via in zip(pairs["user"], pairs["folder"], pairs["right"], pairs["via"],
                            strict=True):
        assert r == best[names[u], paths[f]][0] and via in best[names[u], paths[f]][1]


@pytest.mark.parametrize("seed", range(4))
def test_the_what_if_difference_from_slices_equals_the_whole_tables(serve: Any,
                                                                     seed: int) -> None:
    """The what-if compares only the folders and users a change touches; the difference of the
    two whole tables' strongest rights, computed here, must be the same."""
    data = tenant(seed)
    rng = random.Random(f"factorised-change/{seed}")
    cloud, onprem = serve(data)
    changes, edited = [], data
    for _ in range(rng.randint(1, 3)):
        changes.append(random_change(rng, edited))
        edited = edit_tenant(edited, changes[-1])
    result = audit.what_if(cloud, changes, reference=onprem, tenant="acme", service_account=SA)

    def strongest(a: audit.PermissionAudit) -> dict[tuple[str, str], str]:
        s = a.access.strongest()
        return dict(zip(zip(s["user"].astype(str), s["folder"].astype(str), strict=True),
                        s["right"].astype(str), strict=True))

    before, after = strongest(result.before), strongest(result.after)
    changed = {key: (before.get(key), after.get(key)) for key in before.keys() | after.keys()
               if before.get(key) != after.get(key)}
    got = {(u, f): (b, a) for u, f, b, a in zip(result.access["user"], result.access["folder"],
                                                 result.access["before"],
                                                 result.access["after"], strict=True)}
    assert got == changed
