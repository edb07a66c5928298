"""The three systems' groups as like-shaped frames, from inventories (``opskit.inputs`` reads
them from export CSV files).

Every source becomes a :class:`GroupSource` with the same columns whatever it came from, so the
comparison never needs to know whether Secret Server was read through the on-prem connector or
from a spreadsheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd

from ..csvfile import shown_source
from ..errors import ConfigError
from ..inventory import Inventory
from ._service_account import ServiceAccount, find_service_account
from ._sync import created_at

System = Literal["IGA", "Platform", "Secret Server"]
GROUP_COLUMNS = ["key", "name", "external_id"]
MEMBER_COLUMNS = ["key", "user_name", "user_id"]
GRANT_COLUMNS = ["permission_id", "folder", "right", "principal_id", "principal_name"]
USER_COLUMNS = ["id", "user_name", "active"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass(frozen=True)
class GroupSource:
    """One system's groups, their direct user members and the folder grants naming them.

    ``groups``: key (the system's id for the group), name, external_id; read from a tenant,
    also created (when the group was created there, from its meta; None if not sent).
    ``members``: key, user_name, user_id — direct *user* members only (nesting is not expanded,
    since the IGA provisions direct memberships).
    ``grants``: folder permissions to groups as this system's view shows them.
    ``users``: the system's users (the Platform's are needed to plan membership changes).
    ``complete``: False when a listing could not be read whole (``notes`` say which); a plan
    from an incomplete Platform side is never applied.
    ``service_account``: the Platform's only: the cloud connector's service user and the
    folders it owns through each of its groups (None: not read from a tenant).
    """

    system: System
    origin: str
    groups: pd.DataFrame
    members: pd.DataFrame = field(default_factory=lambda: _empty(MEMBER_COLUMNS))
    grants: pd.DataFrame = field(default_factory=lambda: _empty(GRANT_COLUMNS))
    users: pd.DataFrame = field(default_factory=lambda: _empty(USER_COLUMNS))
    notes: tuple[str, ...] = ()
    complete: bool = True
    service_account: ServiceAccount | None = None

    def __repr__(self) -> str:
        return (f"GroupSource({self.system!r}, {self.origin!r}, {len(self.groups)} groups, "
                f"{len(self.members)} memberships, {len(self.grants)} group grants)")


# --------------------------------------------------------------------------- inventories
def _from_inventory(inv: Inventory, system: System, wrong_flavor: str) -> GroupSource:
    flavor = inv.meta.get("flavor")
    origin = shown_source(inv.meta.get("source") or inv.meta.get("base_url") or "inventory")
    if flavor == wrong_flavor:
        connectors = {"cloud": "SCIM Cloud Connector", "onprem": "On-Prem SCIM Connector"}
        right = "cloud" if wrong_flavor == "onprem" else "onprem"
        raise ConfigError(f"inventory {origin!r} was read through the {connectors[flavor]}, "
                          f"but {system} groups come from the {connectors[right]}",
                          "pass the other inventory, or swap the two arguments")
    groups = pd.DataFrame({"key": inv.groups["id"].astype(str),
                           "name": inv.groups["displayName"].fillna("").astype(str),
                           "external_id": inv.groups["externalId"]})
    # When each group was created: whether Platform Groups Sync's timer has had its chance to
    # bring it counts from then. A snapshot taken before opskit read group meta has no such
    # column, so no time is known.
    created = inv.groups["created"] if "created" in inv.groups \
        else pd.Series(None, index=groups.index)
    groups["created"] = pd.Series([created_at(c) for c in created], index=groups.index,
                                  dtype=object)
    users = pd.DataFrame({"id": inv.users["id"].astype(str),
                          "user_name": inv.users["userName"],
                          "active": inv.users["active"]})
    names = dict(zip(users["id"], users["user_name"], strict=True))
    direct = inv.group_members[inv.group_members["member_type"] == "User"]
    members = pd.DataFrame({
        "key": direct["group_id"].astype(str),
        # A member id the user listing lacks keeps its id: visible as odd, never dropped.
        "user_name": [names.get(str(m)) or str(m) for m in direct["member_id"]],
        "user_id": direct["member_id"].astype(str)})
    perms = inv.container_permissions
    perms = perms[perms["principal_type"] == "group"]
    paths = dict(zip(inv.containers["id"], inv.containers["path"], strict=True))
    grants = pd.DataFrame({
        "permission_id": perms["id"].astype(str),
        "folder": [paths.get(c) or n for c, n in zip(perms["container_id"],
                                                      perms["container_name"], strict=True)],
        "right": perms["right"],
        "principal_id": perms["principal_id"].astype(str),
        "principal_name": perms["principal_name"]})
    notes = () if inv.complete else (
        f"the {system} inventory {origin!r} is incomplete: "
        + "; ".join(inv.meta.get("notes") or ["see its notes"]),)
    return GroupSource(system, str(origin), groups.reset_index(drop=True),
                       members.reset_index(drop=True), grants.reset_index(drop=True),
                       users.reset_index(drop=True), notes, inv.complete)


def platform_groups(inv: Inventory, service_account: str | None = None, *,
                    for_plan: bool = True) -> GroupSource:
    """The Platform's groups, read through the SCIM Cloud Connector (a cloud inventory).

    ``service_account`` is the service user's userName (the profile's ``client_id``); without
    it, the one user who owns every folder the cloud view shows is taken to be it. Where no
    plan will be made from the source (``for_plan=False``: the report after an apply), it is
    not looked for.
    """
    source = _from_inventory(inv, "Platform", wrong_flavor="onprem")
    if not for_plan:
        return source
    return replace(source, service_account=find_service_account(inv, service_account))


def secret_server_groups(inv: Inventory) -> GroupSource:
    """Secret Server's groups, read through the On-Prem SCIM Connector (an on-prem inventory)."""
    return _from_inventory(inv, "Secret Server", wrong_flavor="cloud")
