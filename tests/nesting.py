"""Group nesting chains for the tests: c0 ⊃ c1 ⊃ … ⊃ c(n-1) ⊃ user u1, as tenant-file groups
and as the inventory frames the audit expands. Imports only pandas, so a test can build one in
a child process cheaply."""

from __future__ import annotations

from typing import Any

import pandas as pd


def chain_groups(depth: int) -> list[dict[str, Any]]:
    """The chain as tenant-file groups."""
    return [{"id": f"c{i}", "displayName": f"Chain {i}",
             "members": [f"c{i + 1}" if i + 1 < depth else "u1"]} for i in range(depth)]


def expand_chain(depth: int) -> int:
    """Expand a chain as the audit does and print how that ended (for tests/bounded.py)."""
    from opskit.audit._groups import expand_groups

    try:
        reach = expand_groups(*chain_frames(depth))
    except Exception as exc:
        print(type(exc).__name__, str(exc).replace("\n  → ", " → "))
        return 1
    print(f"expanded: {len(reach.nesting):,} pairs")
    return 0


def chain_frames(depth: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chain as an inventory's groups and group_members frames."""
    groups = chain_groups(depth)
    members = [(g["id"], m, "Group" if m.startswith("c") else "User", None)
               for g in groups for m in g["members"]]
    return (pd.DataFrame(groups)[["id", "displayName"]],
            pd.DataFrame(members, columns=["group_id", "member_id", "member_type",
                                           "member_display"]))
