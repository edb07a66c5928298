"""The cloud connector's service account, and what leaving a group would cost it.

The SCIM Cloud Connector shows only the folders (and their secrets) on which its service
account holds Owner, directly or through groups (FAQ). A plan that removes the account from a
group can therefore shrink what the connector, and so the IGA, sees. The cloud inventory is
the view that shows the account's grants as the connector applies them: from it,
:class:`ServiceAccount` says through which of its groups it owns each folder it sees.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..audit import infer_service_account
from ..errors import OpskitError


@dataclass(frozen=True)
class ServiceAccount:
    """The service user (``user_id`` None: it could not be identified, ``how`` says why).

    ``direct``: ids of the folders it owns by a grant to itself; ``through``: folder id → ids of
    the groups listing it directly through which it holds Owner there (a grant to the group,
    or to a group that contains it). ``folders`` and ``secrets`` name every folder the cloud
    view shows, and the secrets in each.
    """

    user_name: str
    user_id: str | None
    how: str
    folders: Mapping[str, str] = field(default_factory=dict)  # folder id → path
    secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # folder id → names
    direct: frozenset[str] = frozenset()
    through: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def stops_owning(self, leaving: Collection[str], group: str) -> list[str]:
        """Paths of the folders the account would no longer own through ``group`` once it has
        left every group in ``leaving`` (ids): those it holds Owner on only through them."""
        gone = set(leaving)
        return sorted(self.folders[f] for f, via in self.through.items()
                      if group in via and via <= gone and f not in self.direct)

    def secrets_in(self, paths: Collection[str]) -> list[str]:
        wanted = set(paths)
        return sorted(s for f, names in self.secrets.items() if self.folders[f] in wanted
                      for s in names)


def find_service_account(inv: Any, name: str | None = None) -> ServiceAccount:
    """The service account of a cloud inventory: the user named (the profile's ``client_id``),
    else the one user who holds Owner on every folder the view shows."""
    users = dict(zip(inv.users["id"].astype(str), inv.users["userName"], strict=True))
    by_name = {str(n).casefold(): i for i, n in users.items() if isinstance(n, str)}
    folders = dict(zip(inv.containers["id"].astype(str), inv.containers["path"], strict=True))
    secrets: dict[str, tuple[str, ...]] = {}
    for folder, secret in zip(inv.privileged_data["container_id"].astype(str),
                              inv.privileged_data["name"], strict=True):
        secrets[folder] = (*secrets.get(folder, ()), str(secret))
    how = "the profile's client_id"
    if name is None or name.casefold() not in by_name:
        missing = f"{name!r} is not among the Platform's users, so " if name else ""
        try:
            inferred = infer_service_account(inv)
        except OpskitError as exc:
            return ServiceAccount(name or "", None, missing + exc.message, folders, secrets)
        how = missing + "the user who holds Owner on every folder the cloud view shows"
        name = inferred
    uid = by_name[name.casefold()]
    direct, through = _owner_routes(inv, uid, folders)
    return ServiceAccount(users[uid], uid, how, folders, secrets, direct, through)


def _groups_holding(members: Any, uid: str) -> dict[str, set[str]]:
    """Every group that holds the user, directly or nested: group id → the ids of the groups
    listing the user directly that it holds the user through."""
    parents: dict[str, set[str]] = {}
    listing: set[str] = set()
    for group, member, kind in zip(members["group_id"].astype(str),
                                   members["member_id"].astype(str), members["member_type"],
                                   strict=True):
        if kind == "Group":
            parents.setdefault(member, set()).add(group)
        elif member == uid:
            listing.add(group)
    holds: dict[str, set[str]] = {}
    for first in listing:
        todo, seen = [first], {first}
        while todo:
            group = todo.pop()
            holds.setdefault(group, set()).add(first)
            up = parents.get(group, set()) - seen  # a cycle ends here
            seen |= up
            todo += up
    return holds


def _owner_routes(inv: Any, uid: str, folders: Mapping[str, str]
                  ) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The folders the user owns by a grant to itself, and through which groups it owns each."""
    holds = _groups_holding(inv.group_members, uid)
    parent = dict(zip(inv.containers["id"].astype(str), inv.containers["parent_id"],
                      strict=True))
    perms = inv.container_permissions
    owners: dict[str, list[tuple[str, str]]] = {}
    for folder, kind, principal, right in zip(
            perms["container_id"].astype(str), perms["principal_type"],
            perms["principal_id"].astype(str), perms["right"], strict=True):
        if right == "Owner":  # the first right is the one in effect
            owners.setdefault(folder, []).append((kind, principal))
    listed = set(perms["container_id"].astype(str))
    direct: set[str] = set()
    through: dict[str, frozenset[str]] = {}
    for folder in folders:
        # The permissions in effect on a folder; one listed with none takes its parent's.
        source, hops = folder, 0
        while source not in listed and parent.get(source) in folders and hops < len(folders):
            source, hops = parent[source], hops + 1
        via: set[str] = set()
        for kind, principal in owners.get(source, ()):
            if kind == "user" and principal == uid:
                direct.add(folder)
            elif kind == "group":
                via |= holds.get(principal, set())
        through[folder] = frozenset(via)
    return frozenset(direct), through
